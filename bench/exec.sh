#!/usr/bin/env bash
# bench/exec.sh — latency of a command in a running stack, berth against the peers, side by
# side in one run:
#   exec      `true` in the service's running container:
#             berth exec -T | docker exec | docker-compose exec -T | podman exec | podman-compose exec -T
#   run --rm  a one-off container of the service running `true`, removed after:
#             berth run --rm -T | docker-compose run --rm -T | podman-compose run --rm
#             (and plain docker run --rm / podman run --rm on the project network, for reference)
# Each command is timed start to exit with hyperfine (-N: no shell): RUNS rounds, each waiting
# for a quiet machine, in which every command runs REPEAT times after WARMUP untimed runs, the
# order of the commands rotating between rounds so that drifts of the shared machine hit all
# of them. A peer command that fails in a round is reported with its error and left out of
# that round; berth's must not fail. Medians (min–max) in ms and the ratios to berth are
# printed as markdown, with the goal of issue 10: berth ≥ 10× faster than docker.
#
# The stack is one busybox service idling (sleep under a TERM trap), the same image for every
# tool (bench/peers.sh: berth_image). The peers need dockerd, the registry and images
# (../shared/bench/peers/setup.sh); without them only berth is measured.
# The projects are named with -p, so `berth exec`, like Compose's exec, finds the container
# by its labels without reading the Compose file; berth runs the command from its own process
# (no berth-runtime in between), docker exec goes through dockerd, containerd and runc.
#
# Usage: bench/exec.sh      (env: RUNS=3 REPEAT=15 WARMUP=3 TOOLS="berth docker podman"
#                            SETUP_PEERS=0 QUIET_LOAD=1.5 QUIET_MAX=60 BERTH=path)
# Needs root. Leaves nothing behind (trap): the three projects taken down, the private berth
# roots and nft table, what the peers added to the host; daemons only if it started them.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
. bench/peers.sh
RUNS=${RUNS:-3}
REPEAT=${REPEAT:-15}
WARMUP=${WARMUP:-3}
command -v hyperfine >/dev/null || { echo "bench/exec.sh: hyperfine is missing (apt-get install hyperfine)" >&2; exit 1; }
bench_start exec
PB=berthexec PD=berthexecdc PP=berthexecpc   # project names (not the peers' own)
F=$WORK/compose.yml
cat >"$F" <<EOF
services:
  svc:
    image: $IMG
    command: [sh, -c, "trap 'exit 0' TERM; sleep 100000 & wait"]
EOF

cleanup() {
    set +e
    trap - ERR
    "$BERTH" -p $PB -f "$F" down -v -t 0 >/dev/null 2>&1
    [ $have_docker = 1 ] && docker-compose -p $PD -f "$F" down -v -t 0 >/dev/null 2>&1
    [ $have_podman = 1 ] && podman-compose -p $PP -f "$F" down -v -t 0 >/dev/null 2>&1
    peers_cleanup
}
trap cleanup EXIT
trap 'echo "bench/exec.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR
peers_setup
berth_image

# ---------------------------------------------------------------- the commands
names=() cmds=()
add() { names+=("$1"); cmds+=("$2"); }
"$BERTH" -p $PB -f "$F" up -d >"$WORK/up-berth.log" 2>&1 || { cat "$WORK/up-berth.log" >&2; exit 1; }
add "berth exec" "$BERTH -p $PB -f $F exec -T svc true"
add "berth run --rm" "$BERTH -p $PB -f $F run --rm -T svc true"
if [ $have_docker = 1 ]; then
    if docker-compose -p $PD -f "$F" up -d >"$WORK/up-docker.log" 2>&1; then
        id=$($DOCKER ps -q --filter label=com.docker.compose.project=$PD | head -1)
        add "docker exec" "$DOCKER exec $id true"
        add "docker-compose exec" "docker-compose -p $PD -f $F exec -T svc true"
        add "docker run --rm" "$DOCKER run --rm --network ${PD}_default $IMG true"
        add "docker-compose run --rm" "docker-compose -p $PD -f $F run --rm -T svc true"
    else
        echo "bench: docker-compose cannot bring the stack up:" >&2; tail -5 "$WORK/up-docker.log" >&2
    fi
fi
if [ $have_podman = 1 ]; then
    if podman-compose -p $PP -f "$F" up -d >"$WORK/up-podman.log" 2>&1; then
        id=$(podman ps -q --filter label=io.podman.compose.project=$PP | head -1)
        add "podman exec" "podman exec $id true"
        add "podman-compose exec" "podman-compose -p $PP -f $F exec -T svc true"
        add "podman run --rm" "podman run --rm --network ${PP}_default $IMG true"
        add "podman-compose run --rm" "podman-compose -p $PP -f $F run --rm svc true"
    else
        echo "bench: podman-compose cannot bring the stack up:" >&2; tail -5 "$WORK/up-podman.log" >&2
    fi
fi
# Every command must work before it is timed; a peer's that cannot is left out, berth's must.
keep_names=() keep_cmds=()
for i in "${!cmds[@]}"; do
    if ${cmds[$i]} >"$WORK/check.log" 2>&1; then
        keep_names+=("${names[$i]}"); keep_cmds+=("${cmds[$i]}")
    else
        echo "bench: '${names[$i]}' fails here and is left out: $(tail -1 "$WORK/check.log")" >&2
        case ${names[$i]} in berth*) exit 1 ;; esac
    fi
done
names=("${keep_names[@]}") cmds=("${keep_cmds[@]}")

# ---------------------------------------------------------------- timing
# time_all _ ROUND: every command in turn (starting at a different one each round).
: >"$WORK/loads"
time_all() {
    local round=$2 n=${#cmds[@]} k i
    cut -d' ' -f1 /proc/loadavg >>"$WORK/loads"
    for k in $(seq 0 $((n - 1))); do
        i=$(( (k + round) % n ))
        if ! hyperfine -N --warmup "$WARMUP" --runs "$REPEAT" --style none --export-json "$WORK/round-$round-$i.json" \
            -n "${names[$i]}" "${cmds[$i]}" >"$WORK/hyperfine.log" 2>&1; then
            echo "bench: '${names[$i]}' failed in round $round: $(${cmds[$i]} 2>&1 | tail -1)" >&2
            echo "${names[$i]}" >>"$WORK/failed"
            case ${names[$i]} in berth*) exit 1 ;; esac
        fi
    done
    cut -d' ' -f1 /proc/loadavg >>"$WORK/loads"
}
tools=(all)
in_rounds time_all "${#cmds[@]} commands × $REPEAT runs each"

python3 - "$WORK" "$RUNS" "$REPEAT" "$image_note" <<'EOF'
import glob, json, os, statistics, sys
work, rounds, repeat, note = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
times = {}
for path in sorted(glob.glob(work + "/round-*.json")):
    for r in json.load(open(path))["results"]:
        times.setdefault(r["command"], []).extend(x * 1000 for x in r["times"])
failed = open(work + "/failed").read().split("\n") if os.path.exists(work + "/failed") else []
loads = [float(x) for x in open(work + "/loads").read().split()]
def med(name): return statistics.median(times[name]) if name in times else None
def cell(name):
    t = times.get(name)
    if not t: return "—"
    n = failed.count(name)
    return f"{statistics.median(t):.1f} ({min(t):.1f}–{max(t):.1f})" + (f" [{n} round{'s' if n > 1 else ''} failed]" if n else "")
print("## a command in a running stack: berth vs docker 20.10 + docker-compose 1.29 vs podman 4.3 + podman-compose 1.0.3\n")
print(f"`true` in a one-service busybox stack, start to exit (hyperfine -N); {rounds} rounds × {repeat} runs per command, "
      f"order rotating; median (min–max) in ms, wall clock; load average during the runs {min(loads):.2f}–{max(loads):.2f}. {note}.\n")
print("| operation | berth | docker | docker-compose | podman | podman-compose | docker / berth | docker-compose / berth | goal: ≥ 10× faster than docker |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
rows = [("exec `true`", "berth exec", "docker exec", "docker-compose exec", "podman exec", "podman-compose exec"),
        ("run --rm `true`", "berth run --rm", "docker run --rm", "docker-compose run --rm", "podman run --rm", "podman-compose run --rm")]
for label, b, d, dc, p, pc in rows:
    berth = med(b)
    ratio = lambda peer: f"{med(peer) / berth:.1f}×" if berth and med(peer) else "—"
    peers = [x for x in (d, dc) if med(x)]
    goal = "—" if not peers else ("met" if all(med(x) / berth >= 10 for x in peers) else "missed") + f" ({', '.join(peers)})"
    print(f"| {label} | {cell(b)} | {cell(d)} | {cell(dc)} | {cell(p)} | {cell(pc)} | {ratio(d)} | {ratio(dc)} | {goal} |")
print("\nberth's run is Compose's: one-off container named and labelled by Compose's rules on the project network, "
      "attached, removed after. `docker run --rm` / `podman run --rm` start a plain container on the project's "
      "network, for reference (what the Compose layer adds on top).")
EOF
