#!/usr/bin/env bash
# bench/scale.sh — one service scaled 1→20→100→1, then 1→100, by berth, docker-compose and
# podman-compose, in one run, interleaved, several rounds, medians (min–max):
#   1→20, 20→100, 100→1, 1→100   the scale command until exactly that many containers of the
#                                service exist and run (the tool's own ps, polled as the peers'
#                                waitn.sh does; berth's command returns once they run, so its
#                                first poll confirms it — the table shows the command alone too)
#   berth: `berth scale worker=N`; docker-compose 1.29: `up -d --scale worker=N --no-recreate`;
#   podman-compose 1.0.3 ignores --scale: `up -d` with an override setting deploy.replicas: N
#   (as in the peers' recipe); it never removes containers, so it has no scale-down, and it
#   sleeps 1 s per podman command (PODMAN_RUNS rounds only, default 1).
# Then, for berth alone, the same with a healthcheck: `up -d --wait --scale probed=N` returns
# once every replica is healthy (its first probe 100 ms after start: start_interval).
# With 100 containers running: CPU used over IDLE_SECONDS by berth's supervisor, by docker's
# dockerd + containerd + shims, by podman's conmons (none of them should work while nothing
# happens), and their memory (RSS, PSS).
#
# The service is the peers' worker (../shared/bench/peers/compose/docker-compose.yml: busybox
# `sleep` under a TERM trap), alone in its file; every tool runs the same busybox image,
# already local (see bench/peers.sh: berth_image). Goal (issue 6): 1→20 < 300 ms,
# 1→100 < 1.5 s, idle supervisor CPU ≈ 0.
#
# Usage: bench/scale.sh   (env: RUNS=3 PODMAN_RUNS=1 TOOLS="berth docker podman" SETUP_PEERS=0
#                           IDLE_SECONDS=10 QUIET_LOAD=1.5 QUIET_MAX=60 IDLE=85 BERTH=path)
# Needs root. Leaves nothing behind (trap): each project taken down, the private berth roots
# and nft table, what the peers leave on the host; daemons only if it started them.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
. bench/peers.sh
RUNS=${RUNS:-3}
PODMAN_RUNS=${PODMAN_RUNS:-1}
IDLE_SECONDS=${IDLE_SECONDS:-10}
bench_start scale
PB=berthscale PH=berthscaleh PD=berthscaledc PP=berthscalepc   # project names

# ---------------------------------------------------------------- the stack
mkdir -p "$WORK/scale"
F=$WORK/scale/compose.yml
FH=$WORK/scale/healthy.yml
cat >"$F" <<EOF
# The peers' worker service, alone.
version: "3.8"
services:
  worker:
    image: $IMG
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
EOF
cat >"$FH" <<EOF
# berth only: the worker with a healthcheck whose first probe runs 100 ms after the start.
services:
  probed:
    image: $IMG
    command: ["sh", "-c", "trap 'exit 0' TERM; touch /tmp/ready; sleep 3600 & wait"]
    healthcheck:
      test: ["CMD", "test", "-e", "/tmp/ready"]
      interval: 30s
      start_period: 60s
      start_interval: 100ms
EOF
for n in 1 20 100; do printf 'version: "3.8"\nservices:\n  worker:\n    deploy:\n      replicas: %s\n' $n >"$WORK/scale/replicas-$n.yml"; done

# ---------------------------------------------------------------- the tools' commands
b()  { "$BERTH" -p $PB -f "$F" "$@"; }
bh() { "$BERTH" -p $PH -f "$FH" "$@"; }
dc() { docker-compose -p $PD -f "$F" "$@"; }
pc() { local n=$1; shift; podman-compose -p $PP -f "$F" -f "$WORK/scale/replicas-$n.yml" "$@"; }

# scale TOOL N
scale() {
    case $1 in
        berth)   b scale worker="$2" ;;
        healthy) bh up -d --wait --scale probed="$2" ;;
        docker)  dc up -d --scale worker="$2" --no-recreate ;;
        podman)  pc "$2" up -d ;;
    esac
}
# count TOOL running|all: the tool's own ps.
count() {
    local flag
    case $1 in
        berth)   if [ "$2" = running ]; then b ps -q --status running; else b ps -a -q; fi 2>/dev/null | grep -c . || true ;;
        healthy) if [ "$2" = running ]; then bh ps -q --status running; else bh ps -a -q; fi 2>/dev/null | grep -c . || true ;;
        docker)  [ "$2" = running ] && flag="--filter status=running" || flag=-a
                 $DOCKER ps -q $flag --filter label=com.docker.compose.project=$PD 2>/dev/null | grep -c . || true ;;
        podman)  [ "$2" = running ] && flag="--filter status=running" || flag=-a
                 podman ps -q $flag --filter label=io.podman.compose.project=$PP 2>/dev/null | grep -c . || true ;;
    esac
}
# settled_at TOOL N: poll (60 s deadline) until exactly N containers exist and all run.
settled_at() {
    local end=$((SECONDS + 60)) r a
    while r=$(count "$1" running); a=$(count "$1" all); [ "$r" != "$2" ] || [ "$a" != "$2" ]; do
        [ $SECONDS -lt $end ] || { echo "bench: $1: $r running, $a in all, after 60 s (want $2)" >&2; return 1; }
        sleep 0.05
    done
}
down() {
    case $1 in
        berth)   b down -t 0 ;;
        healthy) bh down -t 0 ;;
        docker)  dc down -t 0 ;;
        podman)  pc 100 down -t 0 ;;
    esac
}

# ---------------------------------------------------------------- cleanup
cleanup() {
    set +e
    trap - ERR
    "$BERTH" -p $PB -f "$F" down -t 0 >/dev/null 2>&1
    "$BERTH" -p $PH -f "$FH" down -t 0 >/dev/null 2>&1
    if [ $have_docker = 1 ]; then dc down -t 0 >/dev/null 2>&1; fi
    if [ $have_podman = 1 ]; then
        pc 100 down -t 0 >/dev/null 2>&1
    fi
    peers_cleanup
}
trap cleanup EXIT
trap 'echo "bench/scale.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR

# ---------------------------------------------------------------- the peers and the image
peers_setup
berth_image
candidates=(berth healthy)
[ $have_docker = 1 ] && candidates+=(docker)
[ $have_podman = 1 ] && candidates+=(podman)

# Every tool must scale 1→20→1 once before anything is timed (also the warm-up); a peer that
# cannot is left out (its recorded number is shown); berth must.
tools=()
for t in "${candidates[@]}"; do
    down "$t" >/dev/null 2>&1 || true
    last=1; [ "$t" = podman ] && last=20   # podman-compose does not scale down
    if scale "$t" 1 >"$WORK/check-$t.log" 2>&1 && settled_at "$t" 1 && scale "$t" 20 >>"$WORK/check-$t.log" 2>&1 &&
        settled_at "$t" 20 && scale "$t" "$last" >>"$WORK/check-$t.log" 2>&1 && settled_at "$t" "$last" &&
        down "$t" >>"$WORK/check-$t.log" 2>&1 && [ "$(count "$t" all)" = 0 ]; then
        tools+=("$t")
    else
        echo "bench: $t cannot scale the service here:" >&2; tail -20 "$WORK/check-$t.log" >&2
        [ "$t" != berth ] && [ "$t" != healthy ] || exit 1
        down "$t" >/dev/null 2>&1 || true
        case $t in docker) have_docker=0 ;; podman) have_podman=0 ;; esac
    fi
done

# ---------------------------------------------------------------- timing
: >"$WORK/times.tsv"; : >"$WORK/idle.tsv"
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(cut -d' ' -f1 /proc/loadavg)" >>"$WORK/times.tsv"; }
# timed TOOL FROM TO: scales, times the command alone and until TO containers exist and run.
timed() {
    local tool=$1 op="$2→$3" t0
    settle
    t0=${EPOCHREALTIME/./}
    scale "$tool" "$3" >"$WORK/last.log" 2>&1 || { echo "bench: $tool $op failed:" >&2; tail -20 "$WORK/last.log" >&2; return 1; }
    record "$tool" "$op (command alone)" "$(ms_since "$t0")"
    settled_at "$tool" "$3"
    record "$tool" "$op" "$(ms_since "$t0")"
}

# idle TOOL: CPU and memory of the tool's own processes with its 100 containers up and nothing
# happening — lines of idle.tsv: tool, processes, count, CPU %, RSS kB, PSS kB. For berth, its
# per-container monitors (berth-runtime) on a line of their own, over the same seconds.
idle() {
    local pids label others="" hz t0 t1 o0 o1
    case $1 in
        berth|healthy)
            local project=$PB; [ "$1" = healthy ] && project=$PH
            label="berth supervisor"; [ "$1" = healthy ] && label="berth supervisor (100 healthchecks, every 30 s)"
            pids=$(berth_supervisor $project)
            [ -n "$pids" ] || { echo "bench: no berth supervisor found" >&2; return 1; }
            others=$(berth_monitors) ;;
        docker)  label="dockerd + containerd + containerd-shims"
                 pids="$(cat /var/run/docker.pid) $(pgrep -x containerd || true)"
                 for id in $($DOCKER ps -q --no-trunc --filter label=com.docker.compose.project=$PD); do
                     pids="$pids $(pgrep -f "containerd-shim-runc-v2 -namespace moby -id $id" || true)"
                 done ;;
        podman)  label="conmons"
                 pids=$(for c in $(podman ps -q --filter label=io.podman.compose.project=$PP); do podman inspect -f '{{.State.ConmonPid}}' "$c"; done) ;;
    esac
    hz=$(getconf CLK_TCK)
    settle
    t0=$(cpu_ticks $pids); o0=$(cpu_ticks $others)
    sleep "$IDLE_SECONDS"
    t1=$(cpu_ticks $pids); o1=$(cpu_ticks $others)
    idle_line "$1" "$label" "$((t1 - t0))" "$hz" $pids
    [ "$1" = berth ] && idle_line "$1" "berth-runtime monitors" "$((o1 - o0))" "$hz" $others
    return 0
}
idle_line() {  # TOOL LABEL TICKS HZ PID...
    local tool=$1 label=$2 ticks=$3 hz=$4 r=0 p=0 x y z pid; shift 4
    for pid in "$@"; do read -r x y z < <(rss_pss_uss "$pid"); r=$((r + x)); p=$((p + y)); done
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$label" "$#" \
        "$(python3 -c "print(f'{$ticks * 100 / $hz / $IDLE_SECONDS:.2f}')")" "$r" "$p" >>"$WORK/idle.tsv"
}

round_of() {  # TOOL ROUND
    local t=$1 round=$2
    [ "$t" = podman ] && [ "$round" -gt "$PODMAN_RUNS" ] && return 0
    scale "$t" 1 >/dev/null 2>&1 && settled_at "$t" 1
    timed "$t" 1 20
    timed "$t" 20 100
    [ "$round" = 1 ] && idle "$t"
    if [ "$t" != podman ]; then   # podman-compose does not scale down
        timed "$t" 100 1
        timed "$t" 1 100
    fi
    down "$t" >/dev/null 2>&1
    return 0
}
in_rounds round_of "podman-compose: $PODMAN_RUNS"

# ---------------------------------------------------------------- the tables
unsettled=$(grep -c . "$WORK/unsettled" 2>/dev/null || true); unsettled=${unsettled:-0}
python3 - "$WORK" "$RUNS" "$PODMAN_RUNS" "$image_note" "$IDLE" "$unsettled" "$IDLE_SECONDS" <<'EOF'
import statistics, sys
work, runs, podman_runs, image_note, idle, unsettled, idle_seconds = sys.argv[1:8]
times, loads = {}, []
for line in open(work + "/times.tsv"):
    tool, op, ms, load = line.rstrip("\n").split("\t")
    times.setdefault((tool, op), []).append(float(ms))
    loads.append(float(load))
# The peers' README (../shared/bench/peers): scale worker 1→20 of its 5-service stack, until
# 24 run (median, min, max ms); nothing recorded for 100 replicas.
recorded = {("docker", "1→20"): (3400, 3289, 3588), ("podman", "1→20"): (34497, 34181, 35099)}
goal = {"1→20": 300, "1→100": 1500}
ops = ["1→20", "20→100", "100→1", "1→100"]

def cell(tool, op):
    t = times.get((tool, op))
    if t:
        return statistics.median(t), f"{statistics.median(t):.0f} ({min(t):.0f}–{max(t):.0f})"
    if (tool, op) in recorded:
        m, lo, hi = recorded[(tool, op)]
        return m, f"{m} ({lo}–{hi}) recorded, 5-service stack"
    if tool == "podman" and op in ("100→1", "1→100"):
        return None, "— (no scale-down)"
    return None, "—"

print("## scaling one service: berth vs docker-compose 1.29 vs podman-compose 1.0.3\n")
print(f"The peers' worker service (busybox sleep) alone; {runs} interleaved rounds (podman-compose: {podman_runs}), "
      f"order rotating, each command started once the CPUs had been ≥ {idle} % idle for 100 ms (5 s at most; "
      f"{unsettled} commands started without that); until exactly N containers of the service exist and run; "
      f"median (min–max) in ms, wall clock; load average during the runs {min(loads):.2f}–{max(loads):.2f}. {image_note}.\n")
print("| scale worker | berth | docker-compose | podman-compose | docker-compose / berth | goal |")
print("|---|---:|---:|---:|---:|---|")
for op in ops:
    b, bc = cell("berth", op)
    d, dcell = cell("docker", op)
    _, pcell = cell("podman", op)
    ratio = f"{d / b:.1f}×" if b and d else "—"
    g = goal.get(op)
    verdict = "—" if g is None or b is None else (f"< {g} ms: " + ("met" if b < g else "missed"))
    print(f"| {op} | {bc} | {dcell} | {pcell} | {ratio} | {verdict} |")
    cells = [cell(t, op + " (command alone)")[1] if times.get((t, op + " (command alone)")) else "—" for t in ("berth", "docker", "podman")]
    print(f"| ↳ the command alone | {cells[0]} | {cells[1]} | {cells[2]} | | |")
print("\nberth with a healthcheck (`up -d --wait --scale probed=N`: returns once every replica is healthy; first probe 100 ms after the start):\n")
print("| scale probed | berth, until all healthy |")
print("|---|---:|")
for op in ops:
    print(f"| {op} | {cell('healthy', op)[1]} |")

print(f"\n## with 100 containers running and nothing happening ({idle_seconds} s)\n")
print("| tool | processes | count | CPU (% of one core) | RSS total (kB) | PSS total (kB) | PSS / container (kB) |")
print("|---|---|---:|---:|---:|---:|---:|")
for line in open(work + "/idle.tsv"):
    tool, label, n, cpu, rss, pss = line.rstrip("\n").split("\t")
    print(f"| {tool} | {label} | {n} | {cpu} | {rss} | {pss} | {int(pss) / 100:.0f} |")
EOF
