#!/usr/bin/env bash
# bench/compose.sh — a 5-service Compose stack brought up and down by berth, docker-compose
# and podman-compose, in one run, side by side, interleaved, several runs, medians (min–max):
#   up      `up -d` from empty (named volume kept) until all 5 containers run
#   down    plain `down` of the 5 containers
#   scale   from the running stack, worker 1→20 until 24 containers run
#           (berth, docker-compose: `up -d --scale worker=20 --no-recreate`; podman-compose
#            ignores --scale and gets `-f scale20.yml`, deploy.replicas: 20, as in the peers' recipe)
#   down24  plain `down` of the 24 containers
# "until N run" = the command, then the tool's own `ps` polled until N containers of the
# project run (the peers' waitn.sh; for berth `berth ps -q --status running`): berth's `up -d`
# returns once every container runs, so its first poll confirms it; the table shows the
# command alone next to it. Each timed command starts on a settled machine (see settle).
# Then memory, with the 5-service stack up and with 24 containers: RSS, PSS and USS
# (/proc/PID/smaps_rollup) of berth's supervisor and of its per-container monitors
# (berth-runtime), total and per container, next to docker's containerd-shims and podman's
# conmons (measured when they run here, and as recorded in the peers' README).
# Last, where berth's time goes: the four commands again (RUNS times, berth alone), with
# berth's own progress events (--progress json) stamped as they arrive: CLI start and project
# load, network create/remove, each container's create/start/stop/remove, the supervisor's start.
#
# The stack is ../shared/bench/peers/compose/docker-compose.yml, used as is by all three tools
# (its host port 18080 is moved to a free one if something else holds it). Every tool runs the
# same busybox image, already local before anything is timed: berth pulls it from the peers'
# registry on 127.0.0.1:5000 into a private store when that registry runs (the very same
# image, one layer), and otherwise imports an equivalent busybox-static rootfs (same files)
# under the same name.
#
# The peers need dockerd, the registry and images (../shared/bench/peers/setup.sh). Without
# them, only berth is measured and the peers' numbers are printed as recorded in their README,
# labelled so. SETUP_PEERS=1 runs setup.sh first when they are not ready (apt packages,
# registry, dockerd) and the peers' cleanup.sh at the end.
#
# Usage: bench/compose.sh        (env: RUNS=5 TOOLS="berth docker podman" SETUP_PEERS=0
#                                  QUIET_LOAD=1.5 QUIET_MAX=60 IDLE=85 BERTH=path)
# Needs root. Leaves nothing behind (trap): each project taken down with -v, the peers'
# project networks, the private berth roots and nft table; daemons only if it started them.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
. bench/peers.sh
RUNS=${RUNS:-5}
bench_start compose
[ -f "$PEERS/compose/docker-compose.yml" ] || { echo "bench/compose.sh: $PEERS/compose/docker-compose.yml is missing" >&2; exit 1; }
PB=berthbench PD=berthbenchdc PP=berthbenchpc           # project names (not the peers' own)

# ---------------------------------------------------------------- the tools' commands
F=$WORK/compose/docker-compose.yml
F20=$WORK/compose/scale20.yml
b()  { "$BERTH" -p $PB -f "$F" "$@"; }
dc() { docker-compose -p $PD -f "$F" "$@"; }
pc() { podman-compose -p $PP -f "$F" "$@"; }
pc20() { podman-compose -p $PP -f "$F" -f "$F20" "$@"; }

# running TOOL: how many containers of the tool's project run, by the tool's own ps.
running() {
    case $1 in
        berth)  b ps -q --status running 2>/dev/null | grep -c . || true ;;
        docker) $DOCKER ps -q --filter label=com.docker.compose.project=$PD --filter status=running 2>/dev/null | grep -c . || true ;;
        podman) podman ps -q --filter label=io.podman.compose.project=$PP --filter status=running 2>/dev/null | grep -c . || true ;;
    esac
}
# wait_running TOOL N: poll until N run (60 s deadline), as the peers' waitn.sh does.
wait_running() {
    local end=$((SECONDS + 60)) n
    while n=$(running "$1"); [ "$n" -lt "$2" ]; do
        [ $SECONDS -lt $end ] || { echo "bench: $1: only $n of $2 containers running after 60 s" >&2; return 1; }
        sleep 0.05
    done
}
# all_gone TOOL: nothing of the project is left in the tool's ps -a.
all_gone() {
    local n
    case $1 in
        berth)  n=$(b ps -a -q 2>/dev/null | grep -c . || true) ;;
        docker) n=$($DOCKER ps -aq --filter label=com.docker.compose.project=$PD | grep -c . || true) ;;
        podman) n=$(podman ps -aq --filter label=io.podman.compose.project=$PP | grep -c . || true) ;;
    esac
    [ "$n" = 0 ] || { echo "bench: $1: $n containers left after down" >&2; return 1; }
}

up()    { case $1 in berth) b up -d ;; docker) dc up -d ;; podman) pc up -d ;; esac; }
# down TOOL [24]: podman-compose only sees the 20 workers through the override.
down()  { case $1 in berth) b down ;; docker) dc down ;; podman) if [ "${2:-}" = 24 ]; then pc20 down; else pc down; fi ;; esac; }
scale() { case $1 in berth) b up -d --scale worker=20 --no-recreate ;; docker) dc up -d --scale worker=20 --no-recreate ;; podman) pc20 up -d ;; esac; }

# ---------------------------------------------------------------- cleanup
cleanup() {
    set +e
    trap - ERR
    "$BERTH" -p $PB -f "$F" down -v -t 0 >/dev/null 2>&1
    if [ $have_docker = 1 ]; then dc down -v -t 0 >/dev/null 2>&1; fi
    if [ $have_podman = 1 ]; then
        pc20 down -v -t 0 >/dev/null 2>&1
        podman volume rm -f ${PP}_data >/dev/null 2>&1
    fi
    peers_cleanup
}
trap cleanup EXIT
trap 'echo "bench/compose.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR

# ---------------------------------------------------------------- the peers
peers_setup

# ---------------------------------------------------------------- the stack and the image
mkdir -p "$WORK/compose"
cp "$PEERS/compose/docker-compose.yml" "$PEERS/compose/scale20.yml" "$WORK/compose/"
port=18080
if ss -Hltn "sport = :$port" | grep -q .; then
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    sed -i "s/127.0.0.1:18080:8080/127.0.0.1:$port:8080/" "$F"
    echo "port 18080 is taken here: the stack publishes 127.0.0.1:$port instead (for every tool)" >&2
fi
berth_image
candidates=(berth)
[ $have_docker = 1 ] && candidates+=(docker)
[ $have_podman = 1 ] && candidates+=(podman)

# Every tool must bring the stack up, scale it and take it down once before anything is timed
# (also the warm-up: page cache, the named volume, podman's network). A peer that cannot is
# left out (its recorded numbers are shown); berth must.
tools=()
for t in "${candidates[@]}"; do
    down "$t" 24 >/dev/null 2>&1 || true
    if up "$t" >"$WORK/check-$t.log" 2>&1 && wait_running "$t" 5 && scale "$t" >>"$WORK/check-$t.log" 2>&1 &&
        wait_running "$t" 24 && down "$t" 24 >>"$WORK/check-$t.log" 2>&1 && all_gone "$t"; then
        tools+=("$t")
    else
        echo "bench: $t cannot run the stack here:" >&2; tail -20 "$WORK/check-$t.log" >&2
        [ "$t" != berth ] || exit 1
        down "$t" 24 >/dev/null 2>&1 || true
        case $t in docker) have_docker=0 ;; podman) have_podman=0 ;; esac
    fi
done

# ---------------------------------------------------------------- memory
docker_shims() {
    local id
    for id in $($DOCKER ps -q --no-trunc --filter label=com.docker.compose.project=$PD); do
        pgrep -f "containerd-shim-runc-v2 -namespace moby -id $id"
    done
}
podman_conmons() {
    local c
    for c in $(podman ps -q --filter label=io.podman.compose.project=$PP); do podman inspect -f '{{.State.ConmonPid}}' "$c"; done
}
# mem LABEL CONTAINERS PID...: one line of $WORK/mem.tsv (label, containers, processes, kB sums)
mem() {
    local label=$1 containers=$2 r=0 p=0 u=0 n=0 pid x y z; shift 2
    for pid in "$@"; do read -r x y z < <(rss_pss_uss "$pid"); r=$((r + x)); p=$((p + y)); u=$((u + z)); n=$((n + 1)); done
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$containers" "$n" "$r" "$p" "$u" >>"$WORK/mem.tsv"
}
measure_memory() {  # TOOL CONTAINERS (with the stack up)
    case $1 in
        berth)
            local sup; sup=$(berth_supervisor $PB); [ -n "$sup" ] || { echo "bench: no berth supervisor found" >&2; return 1; }
            local mons; mons=$(berth_monitors)
            [ "$(echo "$mons" | grep -c .)" = "$2" ] || { echo "bench: found $(echo "$mons" | grep -c .) berth-runtime monitors for $2 containers" >&2; return 1; }
            mem "berth supervisor" "$2" "$sup"
            mem "berth-runtime monitors" "$2" $mons
            mem "berth total (supervisor + monitors)" "$2" "$sup" $mons ;;
        docker)
            mem "containerd-shim-runc-v2" "$2" $(docker_shims)
            mem "docker-proxy" "$2" $(pgrep -f "docker-proxy .*-host-port $port " || true)
            mem "dockerd + containerd (shared by every project)" "$2" $(cat /var/run/docker.pid) $(pgrep -P "$(cat /var/run/docker.pid)" -x containerd || true) ;;
        podman)
            mem "conmon" "$2" $(podman_conmons)
            mem "dnsmasq (dnsname plugin)" "$2" $(pgrep -f "dnsmasq .*dnsname/${PP}_default" || true) ;;
    esac
}

# ---------------------------------------------------------------- timing
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(cut -d' ' -f1 /proc/loadavg)" >>"$WORK/times.tsv"; }
# timed TOOL OP N COMMAND...: times the command, then until N containers run (N=0: all gone).
timed() {
    local tool=$1 op=$2 want=$3 t0; shift 3
    settle
    t0=${EPOCHREALTIME/./}
    "$@" >"$WORK/last.log" 2>&1 || { echo "bench: $tool $op failed:" >&2; tail -20 "$WORK/last.log" >&2; return 1; }
    record "$tool" "$op (command alone)" "$(ms_since "$t0")"
    if [ "$want" = 0 ]; then all_gone "$tool"; else wait_running "$tool" "$want"; fi
    record "$tool" "$op" "$(ms_since "$t0")"
}

: >"$WORK/times.tsv"; : >"$WORK/mem.tsv"
round_of() {  # TOOL ROUND
    local t=$1 round=$2
    timed "$t" up 5 up "$t"
    [ "$round" = 1 ] && measure_memory "$t" 5
    timed "$t" down 0 down "$t"
    up "$t" >/dev/null 2>&1 && wait_running "$t" 5
    timed "$t" scale 24 scale "$t"
    [ "$round" = 1 ] && measure_memory "$t" 24
    timed "$t" down24 0 down "$t" 24
}
in_rounds round_of

# ---------------------------------------------------------------- where berth's time goes
# berth's own progress events (--progress json), stamped as they arrive by a small driver
# that starts the command: no tracing, so nothing is slowed down. Plus the CLI's start
# (`berth version`) and start + project load (`config -q`), timed alone.
cat >"$WORK/stamp.py" <<'EOF'
import json, subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
p = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
events = []
for line in p.stderr:
    t = (time.monotonic() - t0) * 1000
    if line.startswith("{"):
        e = json.loads(line)
        events.append([t, e["id"], e["status"]])
code = p.wait()
end = (time.monotonic() - t0) * 1000
if code != 0: sys.exit(f"{' '.join(cmd)}: exit {code}")
with open(out, "a") as f: f.write(json.dumps({"end": end, "events": events}) + "\n")
EOF
stamp() { settle; python3 "$WORK/stamp.py" "$WORK/profile-$1.jsonl" "$BERTH" --progress json -p $PB -f "$F" "${@:2}"; }
for _ in $(seq 1 "$RUNS"); do
    for _ in 1 2 3; do
        t0=${EPOCHREALTIME/./}; "$BERTH" version >/dev/null; record berth "CLI start (berth version)" "$(ms_since "$t0")"
        t0=${EPOCHREALTIME/./}; b config -q 2>/dev/null; record berth "CLI start + project load (config -q)" "$(ms_since "$t0")"
    done
    stamp up up -d && stamp down down && b up -d >/dev/null 2>&1 &&
        stamp scale up -d --scale worker=20 --no-recreate && stamp down24 down
done

# ---------------------------------------------------------------- the tables
unsettled=$(grep -c . "$WORK/unsettled" 2>/dev/null || true); unsettled=${unsettled:-0}
python3 - "$WORK" "$RUNS" "$image_note" "$port" "$IDLE" "$unsettled" <<'EOF'
import statistics, sys
work, runs, image_note, port, idle, unsettled = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
times, loads = {}, []
for line in open(work + "/times.tsv"):
    tool, op, ms, load = line.rstrip("\n").split("\t")
    times.setdefault((tool, op), []).append(float(ms))
    loads.append(float(load))
# The peers' README (../shared/bench/peers, measured 2026-11-21, load < 1.5), ms: median, min, max.
recorded = {
    ("docker", "up"): (1741, 1469, 1855), ("docker", "down"): (1040, 957, 1054),
    ("docker", "scale"): (3400, 3289, 3588), ("docker", "down24"): (2580, 2580, 2580),
    ("podman", "up"): (6349, 6224, 6513), ("podman", "down"): (1460, 1302, 1499),
    ("podman", "scale"): (34497, 34181, 35099), ("podman", "down24"): (6640, 6640, 6640),
}
goal = {"up": 170, "down": 100, "scale": 340}
ops = [("up", "`up -d`, until 5 run"), ("down", "`down`, 5 containers"),
       ("scale", "scale worker 1→20, until 24 run"), ("down24", "`down`, 24 containers")]

def cell(tool, op):
    t = times.get((tool, op))
    if t:
        return statistics.median(t), f"{statistics.median(t):.0f} ({min(t):.0f}–{max(t):.0f})"
    if (tool, op) in recorded:
        m, lo, hi = recorded[(tool, op)]
        return m, (f"{m} (recorded)" if lo == hi else f"{m} ({lo}–{hi}) recorded")
    return None, "—"

print(f"## compose stack: berth vs docker-compose 1.29 vs podman-compose 1.0.3\n")
print(f"5 services (../shared/bench/peers/compose/docker-compose.yml, port 127.0.0.1:{port}); "
      f"{runs} interleaved rounds, order rotating, each command started once the CPUs had been ≥ {idle} % idle "
      f"for 100 ms (5 s at most; {unsettled} commands started without that); median (min–max) in ms, wall clock; "
      f"load average during the runs {min(loads):.2f}–{max(loads):.2f}. {image_note}. "
      "\"recorded\" = not measured in this run, taken from the peers' README.\n")
print("| operation | berth | docker-compose | podman-compose | docker-compose / berth | goal (≥ 10×) |")
print("|---|---:|---:|---:|---:|---|")
for op, label in ops:
    b, bc = cell("berth", op)
    d, dcell = cell("docker", op)
    _, pcell = cell("podman", op)
    ratio = f"{d / b:.1f}×" if b and d else "—"
    g = goal.get(op)
    verdict = "—" if g is None else (f"≤ {g} ms: " + ("met" if b <= g else "missed"))
    print(f"| {label} | {bc} | {dcell} | {pcell} | {ratio} | {verdict} |")
    if times.get(("berth", op + " (command alone)")):
        cells = [cell(t, op + " (command alone)")[1] if times.get((t, op + " (command alone)")) else "—"
                 for t in ("berth", "docker", "podman")]
        print(f"| ↳ the command alone | {cells[0]} | {cells[1]} | {cells[2]} | | |")

rows = [line.rstrip("\n").split("\t") for line in open(work + "/mem.tsv")]
print("\n## memory with the stack up (kB; RSS counts shared pages in full, PSS shares them out, USS = private pages)\n")
print("| process | containers | processes | RSS total | RSS / container | PSS / container | USS / container |")
print("|---|---:|---:|---:|---:|---:|---:|")
for label, containers, n, r, p, u in rows:
    c, n, r, p, u = int(containers), int(n), int(r), int(p), int(u)
    if n == 0: continue
    print(f"| {label} | {c} | {n} | {r} | {r / c:.0f} | {p / c:.0f} | {u / c:.0f} |")
print("| conmon, podman (recorded: 20 containers) | 20 | 20 | 40000 | 2000 | 410 | 330 |")
print("| containerd-shim-runc-v2, docker (recorded: 20 containers) | 20 | 20 | 264000 | 13200 | 3000 | 2400 |")

# Where berth's time goes: phases from the stamped progress events of each command.
import json
def med(xs): return f"{statistics.median(xs):.1f}" if xs else "—"
PAIRS = {"Created": "Creating", "Started": "Starting", "Stopped": "Stopping", "Removed": "Removing"}
VERB = {"Creating": "create", "Starting": "start", "Stopping": "stop", "Removing": "remove"}
def phases(op):
    out = {}
    def add(k, v): out.setdefault(k, []).append(v)
    for line in open(f"{work}/profile-{op}.jsonl"):
        run = json.loads(line)
        ev, end = run["events"], run["end"]
        if not ev: continue
        at = {}
        for t, ident, status in ev: at.setdefault((ident, status), t)
        add("until the first event (CLI start, project load, image resolve, plan)", ev[0][0])
        for (ident, status), t in at.items():
            kind = ident.split(" ")[0]
            if status in PAIRS and (ident, PAIRS[status]) in at:
                add(f"{kind.lower()}: {VERB[PAIRS[status]]}" + (", each" if kind == "Container" else ""), t - at[(ident, PAIRS[status])])
        starts = sorted((t, ident) for (ident, status), t in at.items() if status == "Starting")
        if op == "up" and starts and (starts[0][1], "Started") in at:   # up from empty: no supervisor yet
            add("first container start (incl. starting the supervisor)", at[(starts[0][1], "Started")] - starts[0][0])
        box = [t for (ident, status), t in at.items() if ident.startswith("Container")]
        if box: add("all containers: first to last event", max(box) - min(box))
        add("after the last event until the command exits", end - ev[-1][0])
        add("total", end)
    return out
print("\n## where berth's time goes (ms, medians over the runs — per container: median (max) over containers and runs; "
      "from berth's own progress events, stamped as they arrive)\n")
cli = times.get(("berth", "CLI start (berth version)"), [])
load = times.get(("berth", "CLI start + project load (config -q)"), [])
print(f"CLI start alone (`berth version`): {med(cli)} ms; CLI start + project load (`berth config -q`): {med(load)} ms.\n")
cols = [("up", "up (5)"), ("down", "down (5)"), ("scale", "scale (+19)"), ("down24", "down (24)")]
data = {op: phases(op) for op, _ in cols}
keys = []
for op, _ in cols:
    for k in data[op]:
        if k not in keys: keys.append(k)
order = lambda k: (k == "total", k.startswith("after"), k.startswith("all"), not k.startswith("until"))
print("| phase | " + " | ".join(label for _, label in cols) + " |")
print("|---|" + "---:|" * len(cols))
for k in sorted(keys, key=order):
    each = lambda xs: f"{med(xs)} (max {max(xs):.1f})" if xs and k.endswith(", each") else med(xs)
    print(f"| {k} | " + " | ".join(each(data[op].get(k, [])) for op, _ in cols) + " |")
EOF
