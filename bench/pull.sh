#!/usr/bin/env bash
# bench/pull.sh — pull a ~200 MB multi-layer image from a local registry:
#   berth image pull   vs   skopeo copy (to an OCI directory)   vs   podman pull
# side by side in one run. Every run starts from an empty store/destination, a fresh
# directory made by hyperfine --prepare (untimed) and reached through a symlink; nothing
# is deleted until the end: on this machine's ext4 (no journal) creating files right after
# deleting thousands is several times slower (ext4 skips recently freed inodes), which
# would measure the previous run's rm -rf, not the pull. The order rotates between rounds.
#
# The image (built here with umoci, gzip layers): python3.11's stdlib, /usr/lib/python3,
# and the Swift runtime's .so files — three layers of real files, ~200 MB unpacked.
# The registry is Debian's docker-registry on 127.0.0.1 (port $PORT), killed by PID at exit.
#
# What each tool does for the same pull: berth downloads, verifies, decompresses and
# unpacks every layer into its store and syncs the file system before naming the image;
# skopeo only downloads and verifies the compressed blobs into a directory; podman
# downloads, unpacks into containers/storage (overlay) and commits. A last row measures
# what no unpacking pull can avoid: decompressing the gzip layers (gzip -dc, all layers at
# once, nothing written) — when it alone takes longer than skopeo's whole copy, no pull
# that unpacks can match skopeo here.
#
# Usage: bench/pull.sh     (env: ROUNDS=3 RUNS=3 PORT=5057 BERTH=path NO_PODMAN=1)
# Needs root; installs docker-registry, skopeo, umoci, hyperfine and podman with apt when
# missing (podman only for this benchmark — the tests don't use it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
RUNS=${RUNS:-3}
PORT=${PORT:-5057}
NO_PODMAN=${NO_PODMAN:-0}

[ "$(id -u)" = 0 ] || { echo "bench/pull.sh: needs root" >&2; exit 1; }
need=()
for p in docker-registry skopeo umoci hyperfine python3; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
[ "$NO_PODMAN" = 1 ] || command -v podman >/dev/null || need+=(podman)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ -z "${BERTH:-}" ]; then
    swift build -c release --static-swift-stdlib >/dev/null
    BERTH=$(swift build -c release --static-swift-stdlib --show-bin-path)/berth
fi

WORK=$(mktemp -d /var/tmp/berth-bench-pull.XXXXXX)   # on disk, like the stores (not tmpfs)
REGISTRY_PID=
cleanup() {
    [ -n "$REGISTRY_PID" ] && kill "$REGISTRY_PID" 2>/dev/null && wait "$REGISTRY_PID" 2>/dev/null || true
    for d in "$WORK"/runs/podman-*; do
        [ -d "$d/root" ] && podman --root "$d/root" --runroot "$d/run" --storage-driver overlay system reset -f >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# ---- the registry
mkdir -p "$WORK/registry"
cat > "$WORK/registry/config.yml" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $WORK/registry/data}}
http: {addr: 127.0.0.1:$PORT}
EOF
docker-registry serve "$WORK/registry/config.yml" >"$WORK/registry/log" 2>&1 &
REGISTRY_PID=$!
python3 - "$PORT" <<'EOF'
import socket, sys, time
deadline = time.time() + 30
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close(); break
    except OSError:
        if time.time() > deadline: sys.exit("registry did not come up")
        time.sleep(0.05)
EOF

# ---- the image
OCI=$WORK/oci
umoci init --layout "$OCI" >/dev/null
umoci new --image "$OCI:bench" >/dev/null
layer() {   # layer NAME SOURCE...: one umoci repack adding SOURCE paths
    rm -rf "$WORK/bundle"
    umoci unpack --image "$OCI:bench" "$WORK/bundle" >/dev/null
    local name=$1; shift
    for src in "$@"; do mkdir -p "$WORK/bundle/rootfs$(dirname "$src")"; cp -a "$src" "$WORK/bundle/rootfs$(dirname "$src")/"; done
    umoci repack --image "$OCI:bench" --history.created_by "$name" "$WORK/bundle" >/dev/null
}
layer python311 /usr/lib/python3.11
layer python3 /usr/lib/python3
mkdir -p "$WORK/swiftlibs/usr/lib/swift-runtime"
cp -a /opt/swift/usr/lib/swift/linux/*.so "$WORK/swiftlibs/usr/lib/swift-runtime/"
rm -rf "$WORK/bundle"; umoci unpack --image "$OCI:bench" "$WORK/bundle" >/dev/null
cp -a "$WORK/swiftlibs/usr" "$WORK/bundle/rootfs/"
umoci repack --image "$OCI:bench" --history.created_by swift-runtime "$WORK/bundle" >/dev/null
umoci config --image "$OCI:bench" --config.cmd /bin/sh >/dev/null
umoci gc --layout "$OCI"
rm -rf "$WORK/bundle" "$WORK/swiftlibs"
IMG=127.0.0.1:$PORT/bench/python-swift:1
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$OCI:bench" "docker://$IMG"
echo "image: $IMG ($(du -sm "$OCI/blobs" | cut -f1) MB of blobs in the OCI layout)" >&2

# ---- the candidates
echo 0 > "$WORK/counter"
fresh() {   # fresh NAME: a prepare step pointing $WORK/NAME at a new empty directory
    echo "i=\$(cat $WORK/counter); echo \$((i + 1)) > $WORK/counter; mkdir -p $WORK/runs/$1-\$i; ln -sfn $WORK/runs/$1-\$i $WORK/$1"
}
# The floor of any pull that unpacks: decompressing the layers alone (gzip -dc of each
# compressed blob of the image, all at once, output thrown away) — no download, no files.
layer_blobs=$(python3 - "$OCI" <<'PY'
import json, sys
oci = sys.argv[1]
def blob(digest): return f"{oci}/blobs/" + digest.replace(":", "/")
index = json.load(open(f"{oci}/index.json"))
manifest = json.load(open(blob(index["manifests"][0]["digest"])))
print(" ".join(blob(layer["digest"]) for layer in manifest["layers"]))
PY
)
names=("berth image pull" "skopeo copy (to OCI dir)" "gzip -dc of the layers, in parallel (floor)")
cmds=("$BERTH --root $WORK/berth image pull -q $IMG"
      "skopeo --insecure-policy copy -q --src-tls-verify=false docker://$IMG oci:$WORK/skopeo:bench"
      "sh -c 'for b in $layer_blobs; do gzip -dc \$b >/dev/null & done; wait'")
preps=("$(fresh berth)" "$(fresh skopeo)" "true")
if [ "$NO_PODMAN" != 1 ]; then
    P="podman --root $WORK/podman/root --runroot $WORK/podman/run --storage-driver overlay"
    names+=("podman pull")
    cmds+=("$P pull -q --tls-verify=false $IMG")
    preps+=("$(fresh podman)")
fi

for i in "${!cmds[@]}"; do
    sh -c "${preps[$i]}"; sh -c "${cmds[$i]}" >/dev/null || { echo "bench: '${names[$i]}' failed: ${cmds[$i]}" >&2; exit 1; }
done
echo "berth store after a pull: layers $(du -sm "$WORK/berth/images/layers/" | cut -f1) MB, blobs $(du -sm "$WORK/berth/images/blobs/" | cut -f1) MB" >&2

echo "loadavg before: $(cat /proc/loadavg)" >&2
n=${#cmds[@]}
for round in $(seq 1 "$ROUNDS"); do
    args=()
    for k in $(seq 0 $((n - 1))); do
        i=$(( (k + round) % n ))
        args+=(--prepare "${preps[$i]}" -n "${names[$i]}" "${cmds[$i]}")
    done
    hyperfine --runs "$RUNS" --style none --export-json "$WORK/round-$round.json" "${args[@]}" >"$WORK/hyperfine.log" 2>&1 || { cat "$WORK/hyperfine.log" >&2; exit 1; }
done
echo "loadavg after:  $(cat /proc/loadavg)" >&2

python3 - "$WORK" "$ROUNDS" "$RUNS" <<'EOF'
import json, statistics, sys, glob
work, rounds, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
times = {}
for path in sorted(glob.glob(work + "/round-*.json")):
    for r in json.load(open(path))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
base = statistics.median(times["berth image pull"])
print(f"pull from a local registry, {rounds} alternating rounds × {runs} runs (s)\n")
print("| command | median | min | max | median / berth |")
print("|---|---:|---:|---:|---:|")
for name in ["berth image pull", "skopeo copy (to OCI dir)", "podman pull", "gzip -dc of the layers, in parallel (floor)"]:
    if name not in times: continue
    t = sorted(times[name])
    print(f"| {name} | {statistics.median(t):.2f} | {t[0]:.2f} | {t[-1]:.2f} | {statistics.median(t) / base:.2f} |")
EOF
