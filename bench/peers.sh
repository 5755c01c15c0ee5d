# Shared by the benches that compare berth with docker-compose and podman-compose (source it
# from the repository's root, after bench/lib.sh): the settings they share, berth's binaries
# and a work directory (bench_start), timing on a settled machine, memory and CPU of
# processes, the peers' readiness and set-up, berth's copy of the peers' busybox image, and
# restoring what the peers leave on the host.

TOOLS=${TOOLS:-berth docker podman}
SETUP_PEERS=${SETUP_PEERS:-0}
QUIET_LOAD=${QUIET_LOAD:-1.5}
QUIET_MAX=${QUIET_MAX:-60}
IDLE=${IDLE:-85}
PEERS=${PEERS:-$(cd .. && pwd)/shared/bench/peers}
IMG=localhost:5000/busybox:latest
DOCKER=/usr/bin/docker      # Debian's CLI, matching the peers' dockerd (see their README)
export DOCKER_HOST=unix:///var/run/docker.sock
STARTED_PEERS=0
have_docker=0 have_podman=0

# bench_start NAME: root, busybox-static, berth's release binaries (BERTH, built unless given),
# and WORK, a fresh directory on disk (like berth's real roots) holding berth's private roots
# and nft table.
bench_start() {
    [ "$(id -u)" = 0 ] || { echo "bench/$1.sh: needs root" >&2; exit 1; }
    [ -f "$PEERS/setup.sh" ] || { echo "bench/$1.sh: the peers' recipes are missing ($PEERS)" >&2; exit 1; }
    [ -x /bin/busybox ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends busybox-static; }
    if [ -z "${BERTH:-}" ]; then
        swift build -c release --static-swift-stdlib >/dev/null
        BERTH=$(swift build -c release --static-swift-stdlib --show-bin-path)/berth
    fi
    [ -x "$(dirname "$BERTH")/berth-runtime" ] || { echo "bench/$1.sh: no berth-runtime next to $BERTH" >&2; exit 1; }
    WORK=$(mktemp -d "/var/tmp/berth-bench-$1.XXXXXX")
    export BERTH_ROOT=$WORK/root BERTH_RUN_ROOT=$WORK/run BERTH_NFT_TABLE=berth_$1$$
}

# ms_since T0: milliseconds (one decimal) since T0, a ${EPOCHREALTIME/./} stamp.
ms_since() { local us=$(( ${EPOCHREALTIME/./} - $1 )); echo "$((us / 1000)).$((us / 100 % 10))"; }

# settle: before each timed command, wait (up to 5 s) for a 100 ms stretch in which the CPUs
# were at least IDLE % idle, so that no command pays for the previous one's leftover work
# (a peer daemon's clean-up, the kernel tearing down namespaces) or for a burst of the
# machine's other users.
settle() {
    local end=$((SECONDS + 5)) a b
    while [ $SECONDS -lt $end ]; do
        a=$(head -1 /proc/stat); sleep 0.1; b=$(head -1 /proc/stat)
        awk -v a="$a" -v b="$b" -v min="$IDLE" 'BEGIN { split(a, x); split(b, y); t = 0
            for (i = 2; i <= 9; i++) t += y[i] - x[i]
            exit !(t > 0 && (y[5] - x[5]) * 100 / t >= min) }' && return 0
    done
    echo unsettled >>"$WORK/unsettled"   # counted in the output; the command runs anyway
}

wait_quiet() {  # up to QUIET_MAX s for the 1-min load average to fall below QUIET_LOAD
    local end=$((SECONDS + QUIET_MAX))
    while awk -v l="$QUIET_LOAD" '{exit !($1 >= l)}' /proc/loadavg && [ $SECONDS -lt $end ]; do sleep 5; done
}

rss_pss_uss() {  # PID -> "rss pss uss" in kB (smaps_rollup)
    awk '/^Rss:/{r=$2} /^Pss:/{p=$2} /^Private_(Clean|Dirty):/{u+=$2} END{print r+0, p+0, u+0}' "/proc/$1/smaps_rollup" 2>/dev/null || echo "0 0 0"
}

# cpu_ticks PID...: user + system clock ticks used so far by these processes together.
cpu_ticks() {
    local pid t=0 x
    for pid in "$@"; do x=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0); t=$((t + x)); done
    echo "$t"
}

# berth_supervisor PROJECT: the pid of that project's `berth supervise` under $WORK/root.
berth_supervisor() {
    local p
    for p in /proc/[0-9]*; do
        tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q -- "--root $WORK/root .*supervise --project $1\( \|$\)" && { echo "${p#/proc/}"; return; }
    done
}

# berth_monitors: the berth-runtime monitor pid of every container under $WORK/root.
berth_monitors() {
    python3 - "$WORK/root/containers" <<'EOF'
import glob, json, sys
for f in glob.glob(sys.argv[1] + "/*/state.json"):
    pid = json.load(open(f)).get("monitorPid")
    try:
        if pid and open(f"/proc/{pid}/comm").read().strip() == "berth-runtime": print(pid)
    except OSError: pass
EOF
}

registry_up() { curl -fsS -m 1 http://127.0.0.1:5000/v2/ >/dev/null 2>&1; }

# peers_ready: have_docker / have_podman = 1 when that peer can run the image here.
peers_ready() {
    have_docker=0 have_podman=0
    if [ -x "$DOCKER" ] && command -v docker-compose >/dev/null && [ -S /var/run/docker.sock ] &&
        $DOCKER image inspect "$IMG" >/dev/null 2>&1; then have_docker=1; fi
    if command -v podman-compose >/dev/null && podman image exists "$IMG" 2>/dev/null; then have_podman=1; fi
}

# berth_image: the peers' busybox image in berth's store under the same name — pulled from
# their registry on 127.0.0.1:5000 when it runs, else an equivalent busybox-static rootfs
# (same files) imported. Sets image_note.
berth_image() {
    if registry_up; then
        "$BERTH" image pull -q "$IMG" >/dev/null
        image_note="berth pulled $IMG from the peers' registry (the same image docker and podman run)"
    else
        local rootfs=$WORK/rootfs
        busybox_rootfs "$rootfs"
        mkdir -p "$rootfs/var/www" "$rootfs/data" "$rootfs/root"
        chmod 1777 "$rootfs/tmp"
        echo '<h1>peers busybox</h1>' >"$rootfs/var/www/index.html"
        "$BERTH" image import --change 'CMD ["sh"]' \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$rootfs" "$IMG" >/dev/null
        image_note="berth imported a busybox-static rootfs as $IMG (no registry on 127.0.0.1:5000; same files as the peers' image)"
    fi
}

# What the peers leave on the host even after their `down -v`, `podman network rm` and (when
# a bench started them) their own cleanup.sh: CNI's and docker's iptables chains and rules,
# iptables-nft's base tables, dockerd's / podman's parent cgroups. host_snapshot records what
# was there before; host_restore removes only what is new — and of the base tables, only
# those without rules.
PEER_RULES='CNI-|cni-podman|DOCKER|docker0'
host_snapshot() {
    local t
    for t in filter nat; do iptables -t $t -S 2>/dev/null >"$WORK/iptables-$t.before" || true; done
    nft list tables | sort >"$WORK/tables.before"
    ls -d /sys/fs/cgroup/*/docker /sys/fs/cgroup/*/libpod_parent 2>/dev/null | sort >"$WORK/cgroups.before" || true
}
host_restore() {
    local t rule chain table d
    for t in filter nat; do
        [ -f "$WORK/iptables-$t.before" ] || continue
        iptables -t $t -S 2>/dev/null | grep -vxF -f "$WORK/iptables-$t.before" | grep -E "^-A .*($PEER_RULES)" | tac |
            sed 's/^-A/-D/' | while read -r rule; do eval iptables -t $t "$rule"; done
        for chain in $(iptables -t $t -S 2>/dev/null | grep -vxF -f "$WORK/iptables-$t.before" | awk -v re="^($PEER_RULES)" '$1 == "-N" && $2 ~ re {print $2}'); do
            iptables -t $t -F "$chain" && iptables -t $t -X "$chain"
        done
    done
    nft list tables | sort | comm -13 "$WORK/tables.before" - | sed 's/^table //' | grep -E '^ip6? (filter|nat)$' | while read -r table; do
        [ "$(nft -j list table $table | python3 -c 'import json,sys; print(sum("rule" in o for o in json.load(sys.stdin)["nftables"]))')" = 0 ] &&
            nft delete table $table
    done
    for d in $(ls -d /sys/fs/cgroup/*/docker /sys/fs/cgroup/*/libpod_parent 2>/dev/null | sort | comm -13 "$WORK/cgroups.before" -); do
        find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
}

# peers_setup: record the host (host_snapshot), find the peers the machine has, set them up
# with their setup.sh when SETUP_PEERS=1 and TOOLS wants one that is missing (STARTED_PEERS=1:
# peers_cleanup runs their cleanup.sh), and keep only those TOOLS names.
want_peer() { case " $TOOLS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
peers_setup() {
    host_snapshot
    peers_ready
    if [ "$SETUP_PEERS" = 1 ] && { { want_peer docker && [ $have_docker = 0 ]; } || { want_peer podman && [ $have_podman = 0 ]; }; }; then
        echo "setting up the peers with $PEERS/setup.sh (log: $WORK/peers-setup.log)" >&2
        STARTED_PEERS=1
        "$PEERS/setup.sh" >"$WORK/peers-setup.log" 2>&1 || { tail -20 "$WORK/peers-setup.log" >&2; exit 1; }
        peers_ready
    fi
    want_peer docker || have_docker=0
    want_peer podman || have_podman=0
}

# peers_cleanup: the end of a bench's cleanup, once its projects are down — podman's project
# network (PP), the peers' daemons if the bench started them, what they left on the host,
# berth's nft tables and run root, WORK.
peers_cleanup() {
    if [ $have_podman = 1 ]; then
        podman network rm -f "${PP}_default" >/dev/null 2>&1
        rm -rf "/var/lib/cni/networks/${PP}_default"
    fi
    [ "$STARTED_PEERS" = 1 ] && "$PEERS/cleanup.sh" >/dev/null 2>&1
    host_restore
    nft delete table inet "$BERTH_NFT_TABLE" 2>/dev/null
    nft delete table ip "${BERTH_NFT_TABLE}_nat" 2>/dev/null
    umount -l "$WORK/run/runtime" 2>/dev/null
    rm -rf "$WORK"
}

# in_rounds FUNCTION [NOTE]: RUNS rounds, each waiting for a quiet machine (wait_quiet), then
# calling FUNCTION TOOL ROUND for every tool of the array `tools`, the order rotating so that no
# tool always runs first; the load average before, after each round and after.
in_rounds() {
    local n=${#tools[@]} round k
    echo "$image_note" >&2
    echo "tools: ${tools[*]}; $RUNS rounds${2:+ ($2)}; loadavg before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    for round in $(seq 1 "$RUNS"); do
        wait_quiet
        for k in $(seq 0 $((n - 1))); do "$1" "${tools[$(( (k + round) % n ))]}" "$round"; done
        echo "round $round/$RUNS done, loadavg $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    done
    echo "loadavg after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
}
