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
# berth is measured twice: `berth-runtime run`, the Foundation-free binary the orchestrator
# spawns per container, and `berth runtime run`, the same code behind the CLI binary (which
# pays CoreFoundation's start-up, ~2 ms per process).
#
# Usage: bench/runtime.sh            (env: ROUNDS=5 RUNS=20 WARMUP=5 CGROUP_FIX=0 BERTH=path)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
RUNS=${RUNS:-20}
WARMUP=${WARMUP:-5}
CGROUP_FIX=${CGROUP_FIX:-0}
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
BERTH_RUNTIME=$(dirname "$BERTH")/berth-runtime

WORK=$(mktemp -d /tmp/berth-bench.XXXXXX)
FIX_APPLIED=0
cleanup() {
    if [ "$FIX_APPLIED" = 1 ]; then "$PEERS/cgroup-fix.sh" revert >/dev/null || echo "bench: cgroup-fix revert failed; run $PEERS/cgroup-fix.sh revert" >&2; fi
    runc delete -f bench-runc >/dev/null 2>&1 || true
    crun delete -f bench-crun >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# The rootfs: Debian's static busybox with its applets, like the tests use.
ROOTFS=$WORK/bundle/rootfs
. bench/lib.sh
busybox_rootfs "$ROOTFS"

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

if [ "$CGROUP_FIX" = 1 ]; then
    "$PEERS/cgroup-fix.sh" apply >/dev/null
    FIX_APPLIED=1
fi

names=("berth-runtime run" "berth runtime run" "crun run (unshare -m)" "runc run")
cmds=("$BERTH_RUNTIME run --rootfs $ROOTFS --run-root $WORK/run --project bench --name bench -- true"
      "$BERTH runtime run --rootfs $ROOTFS --run-root $WORK/run --project bench --name bench -- true"
      "unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified && exec crun run -b $WORK/bundle bench-crun'"
      "runc run -b $WORK/bundle bench-runc")
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
order = ["berth-runtime run", "berth runtime run", "crun run", "crun run (unshare -m)", "runc run"]
base = statistics.median(times["berth-runtime run"])
print(f"start-to-exit of `true`, {rounds} alternating rounds × {runs} runs (ms)\n")
print("| command | median | mean | min | p90 | median / berth |")
print("|---|---:|---:|---:|---:|---:|")
for name in order:
    if name not in times: continue
    t = sorted(x * 1000 for x in times[name])
    p90 = t[int(len(t) * 0.9) - 1]
    print(f"| {name} | {statistics.median(t):.1f} | {statistics.mean(t):.1f} | {t[0]:.1f} | {p90:.1f} | {statistics.median(t) / (base * 1000):.2f} |")
EOF
