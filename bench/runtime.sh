#!/usr/bin/env bash
# bench/runtime.sh — start-to-exit latency of /bin/true in a container:
#   berth runtime run   vs   crun run   vs   runc run
# on the same busybox rootfs (used in place, no overlay), in one run, alternating.
#
# Each round runs every command RUNS times under hyperfine (-N, no shell), and the order of
# the commands rotates between rounds, so that drifts of a shared machine hit all of them.
# The medians over all rounds and the ratios to berth are printed as a markdown table.
#
# crun 1.8 refuses this host's hybrid cgroup layout; it is measured in two ways:
#   "crun run (unshare -m)"  — crun in a private mount namespace without the cgroup2 mount
#                              (no host change; costs an extra unshare + sh);
#   "crun run"               — only with CGROUP_FIX=1: ../shared/bench/peers/cgroup-fix.sh
#                              moves hugetlb to cgroup v1 for the run and reverts it on exit.
#
# LEAN=1 adds a row for the same runtime code in a binary without Foundation (a scratch
# package in the work dir that links only BerthRuntime): today BerthCLI links Foundation
# into `berth`, whose CoreFoundation/Dispatch start-up costs ~1.5 ms per process here.
#
# Usage: bench/runtime.sh            (env: ROUNDS=5 RUNS=20 WARMUP=5 CGROUP_FIX=0 LEAN=0 BERTH=path)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
RUNS=${RUNS:-20}
WARMUP=${WARMUP:-5}
CGROUP_FIX=${CGROUP_FIX:-0}
LEAN=${LEAN:-0}
PEERS=${PEERS:-$(cd .. && pwd)/shared/bench/peers}

for tool in hyperfine crun runc python3; do
    command -v "$tool" >/dev/null || { echo "bench/runtime.sh: $tool is missing (apt-get install hyperfine crun runc python3)" >&2; exit 1; }
done
[ -x /bin/busybox ] || { echo "bench/runtime.sh: /bin/busybox is missing (apt-get install busybox-static)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench/runtime.sh: needs root" >&2; exit 1; }

if [ -z "${BERTH:-}" ]; then
    swift build -c release --static-swift-stdlib >/dev/null
    BERTH=$(swift build -c release --static-swift-stdlib --show-bin-path)/berth
fi

WORK=$(mktemp -d /tmp/berth-bench.XXXXXX)
FIX_APPLIED=0
cleanup() {
    if [ "$FIX_APPLIED" = 1 ]; then "$PEERS/cgroup-fix.sh" revert >/dev/null || echo "bench: cgroup-fix revert failed; run $PEERS/cgroup-fix.sh revert" >&2; fi
    # berth keeps berth/<project> cgroup parents between runs (like Docker's docker/):
    # remove the bench project's, and berth/ when nothing else uses it.
    for d in /sys/fs/cgroup/*/berth/bench /sys/fs/cgroup/berth/bench; do [ -d "$d" ] && rmdir "$d" 2>/dev/null || true; done
    for d in /sys/fs/cgroup/*/berth /sys/fs/cgroup/berth; do [ -d "$d" ] && rmdir "$d" 2>/dev/null || true; done
    runc delete -f bench-runc >/dev/null 2>&1 || true
    crun delete -f bench-crun >/dev/null 2>&1 || true
    rm -rf "$WORK"
    # SwiftPM's lock files for the scratch package live in /tmp, named after its path.
    rm -f /tmp/"$(printf %s "$WORK" | tr / _)"_lean_.build*
}
trap cleanup EXIT

# The rootfs: Debian's static busybox with its applets, like the tests use.
ROOTFS=$WORK/bundle/rootfs
mkdir -p "$ROOTFS"/{bin,etc,tmp,proc,sys,dev}
cp /bin/busybox "$ROOTFS/bin/"
chroot "$ROOTFS" /bin/busybox --install -s /bin
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$ROOTFS/etc/passwd"
printf 'root:x:0:\n' > "$ROOTFS/etc/group"

# The OCI bundle for crun and runc: runc's default spec, running `true`, no terminal.
(cd "$WORK/bundle" && runc spec)
python3 - "$WORK/bundle/config.json" <<'EOF'
import json, sys
path = sys.argv[1]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = ["true"]
c["root"] = {"path": "rootfs", "readonly": False}
c["hostname"] = "bench"
json.dump(c, open(path, "w"), indent=1)
EOF

if [ "$LEAN" = 1 ]; then
    # The runtime's own targets, symlinked into a scratch package with a 3-line main.
    LEAN_PKG=$WORK/lean
    mkdir -p "$LEAN_PKG/Sources/lean"
    for t in CBerthSys CSeccomp BerthSystem BerthRuntime; do ln -s "$PWD/Sources/$t" "$LEAN_PKG/Sources/$t"; done
    cat > "$LEAN_PKG/Package.swift" <<'PKG'
// swift-tools-version:6.0
import PackageDescription
let package = Package(name: "lean", targets: [
    .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp"),
    .target(name: "CBerthSys"),
    .target(name: "BerthSystem", dependencies: ["CBerthSys"]),
    .target(name: "BerthRuntime", dependencies: ["BerthSystem", "CBerthSys", "CSeccomp"]),
    .executableTarget(name: "lean", dependencies: ["BerthRuntime"]),
], swiftLanguageModes: [.v6])
PKG
    cat > "$LEAN_PKG/Sources/lean/main.swift" <<'MAIN'
import BerthRuntime
import Glibc
exit(RuntimeCommand.run(arguments: Array(CommandLine.arguments.dropFirst(2))))
MAIN
    (cd "$LEAN_PKG" && swift build -c release --static-swift-stdlib >/dev/null)
    LEAN_BIN=$(cd "$LEAN_PKG" && swift build -c release --static-swift-stdlib --show-bin-path)/lean
fi

if [ "$CGROUP_FIX" = 1 ]; then
    "$PEERS/cgroup-fix.sh" apply >/dev/null
    FIX_APPLIED=1
fi

names=("berth runtime run" "crun run (unshare -m)" "runc run")
cmds=("$BERTH runtime run --rootfs $ROOTFS --run-root $WORK/run --project bench --name bench -- true"
      "unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified && exec crun run -b $WORK/bundle bench-crun'"
      "runc run -b $WORK/bundle bench-runc")
if [ "$LEAN" = 1 ]; then
    names+=("berth runtime run (binary without Foundation)")
    cmds+=("$LEAN_BIN runtime run --rootfs $ROOTFS --run-root $WORK/run --project bench --name bench -- true")
fi
if [ "$FIX_APPLIED" = 1 ]; then
    names+=("crun run")
    cmds+=("crun run -b $WORK/bundle bench-crun")
fi

# Every command must work before it is timed.
for i in "${!cmds[@]}"; do
    sh -c "${cmds[$i]}" || { echo "bench: '${names[$i]}' failed: ${cmds[$i]}" >&2; exit 1; }
done

echo "loadavg before: $(cat /proc/loadavg)" >&2
n=${#cmds[@]}
for round in $(seq 1 "$ROUNDS"); do
    args=()
    for k in $(seq 0 $((n - 1))); do
        i=$(( (k + round) % n ))
        args+=(-n "${names[$i]}" "${cmds[$i]}")
    done
    hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --style none --export-json "$WORK/round-$round.json" "${args[@]}" >"$WORK/hyperfine.log" 2>&1 || { cat "$WORK/hyperfine.log" >&2; exit 1; }
done
echo "loadavg after:  $(cat /proc/loadavg)" >&2

python3 - "$WORK" "$ROUNDS" "$RUNS" <<'EOF'
import json, statistics, sys, glob
work, rounds, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
times = {}
order = []
for path in sorted(glob.glob(work + "/round-*.json")):
    for r in json.load(open(path))["results"]:
        if r["command"] not in times:
            times[r["command"]] = []
        times[r["command"]] += r["times"]
order = ["berth runtime run", "berth runtime run (binary without Foundation)", "crun run", "crun run (unshare -m)", "runc run"]
base = statistics.median(times["berth runtime run"])
print(f"start-to-exit of `true`, {rounds} alternating rounds × {runs} runs (ms)\n")
print("| command | median | mean | min | p90 | median / berth |")
print("|---|---:|---:|---:|---:|---:|")
for name in order:
    if name not in times: continue
    t = sorted(x * 1000 for x in times[name])
    p90 = t[int(len(t) * 0.9) - 1]
    print(f"| {name} | {statistics.median(t):.1f} | {statistics.mean(t):.1f} | {t[0]:.1f} | {p90:.1f} | {statistics.median(t) / (base * 1000):.2f} |")
EOF
