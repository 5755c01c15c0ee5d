#!/usr/bin/env bash
# bench/network.sh — berth's networking, side by side with the peers, several runs, medians:
#  (a) start-to-exit of `true` in a container on a bridge network: berth (namespace + veth
#      attach with `berth network connect`, then `berth runtime run --network ns:PATH`), with
#      and without the teardown (`disconnect`), next to `--network none`; podman when it is
#      installed (it is not added here: see ../shared/bench/peers for its recipe and numbers);
#  (b) TCP throughput (iperf3, server inside the container's namespace) directly to the
#      container address vs through berth's published port on 127.0.0.1 and on the host's own
#      address (nftables DNAT; traffic stays on this machine);
#  (c) DNS queries per second (dnsperf, one name with three addresses) against berth's
#      embedded server (`berth dns-server`) vs dnsmasq.
# Usage: bench/network.sh [RUNS]  (default 20 for (a); (b) and (c) take 3 runs each).
# Needs root. Installs hyperfine, iperf3, dnsperf, dnsmasq-base, busybox-static, nftables with
# apt when missing. Leaves nothing behind (trap): network, namespace, nft tables, servers.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${1:-20}

need=()
for pair in hyperfine:hyperfine iperf3:iperf3 dnsperf:dnsperf dnsmasq:dnsmasq-base nft:nftables; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

swift build -c release --static-swift-stdlib >/dev/null
berth=$(swift build -c release --static-swift-stdlib --show-bin-path)/berth

work=$(mktemp -d /tmp/berth-netbench.XXXXXX)
export BERTH_NFT_TABLE=berth_bench$$
B="$berth --root $work/root --run-root $work/run"
net=bench$$_net
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  for c in c iperf; do $B network disconnect "$net" "$c" >/dev/null 2>&1 || true; done
  $B network rm "$net" >/dev/null 2>&1 || true
  nft delete table inet "$BERTH_NFT_TABLE" 2>/dev/null || true
  nft delete table ip "${BERTH_NFT_TABLE}_nat" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

rootfs=$work/rootfs
busybox_rootfs "$rootfs"
$B network create "$net" >/dev/null

echo "== (a) start to exit of 'true' ($runs runs each)"
run="$berth runtime run --run-root $work/run --rootfs $rootfs --name c"
hyperfine --warmup 3 --runs "$runs" --export-json "$work/a.json" \
  --prepare "$B network disconnect $net c >/dev/null 2>&1 || true" \
  -n "berth, --network none" "$run --network none true" \
  -n "berth, bridge: connect + run" "$B network connect $net c >/dev/null && $run --network ns:$work/run/netns/c true" \
  -n "berth, bridge: connect + run + disconnect" "$B network connect $net c >/dev/null && $run --network ns:$work/run/netns/c true && $B network disconnect $net c" \
  -n "berth network connect alone" "$B network connect $net c >/dev/null" \
  >/dev/null
$B network disconnect "$net" c >/dev/null 2>&1 || true
if command -v podman >/dev/null && podman image exists localhost:5000/busybox:latest 2>/dev/null; then
  hyperfine --warmup 3 --runs "$runs" --export-json "$work/a-podman.json" -n "podman run --rm (bridge)" \
    "podman run --rm localhost:5000/busybox:latest true" >/dev/null
fi
python3 - "$work"/a*.json <<'PY'
import json, sys
print("| command | median ms | min ms |\n|---|---|---|")
for f in sys.argv[1:]:
    for r in json.load(open(f))["results"]:
        print(f"| {r['command']} | {r['median']*1000:.1f} | {r['min']*1000:.1f} |")
PY

echo "== (b) TCP throughput, iperf3 -t 3, 3 runs each, Gbit/s"
ns=$($B network connect -p 127.0.0.1:15201:5201 -p 15202:5201 "$net" iperf)
ip=$($B network inspect "$net" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Containers"]["iperf"]["IPv4Address"].split("/")[0])')
host=$(ip -4 route show default | awk '{print $5; exit}' | xargs -I{} ip -4 -o addr show dev {} | awk '{split($4,a,"/"); print a[1]; exit}')
declare -A results
for round in 1 2 3; do
  for mode in "direct $ip 5201" "published-127.0.0.1 127.0.0.1 15201" "published-host-address $host 15202"; do
    set -- $mode
    nsenter --net="$ns" iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
    server=$!
    # wait until the server listens (port 5201 = 0x1451 in /proc/net/tcp of the namespace)
    for _ in $(seq 200); do nsenter --net="$ns" grep -q ':1451 00000000:0000 0A' /proc/net/tcp && break; sleep 0.01; done
    bps=$(iperf3 -c "$2" -p "$3" -t 3 -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9)')
    wait "$server" || true
    results[$1]="${results[$1]:-} $bps"
  done
done
echo "| path | median Gbit/s | runs | ratio to direct |"
echo "|---|---|---|---|"
direct=$(median ${results[direct]})
for mode in direct published-127.0.0.1 published-host-address; do
  m=$(median ${results[$mode]})
  echo "| $mode | $m | ${results[$mode]} | $(python3 -c "print(f'{$m/$direct*100:.0f}%')") |"
done
$B network disconnect "$net" iperf >/dev/null

echo "== (c) DNS queries per second (dnsperf -l 5, 3 runs each)"
printf 'web A\n' >"$work/queries"
printf '10.213.0.2 web\n10.213.0.3 web\n10.213.0.4 web\n' >"$work/hosts"
coproc BERTHDNS { $berth dns-server --listen 127.0.0.1:0 --record web=10.213.0.2 --record web=10.213.0.3 --record web=10.213.0.4 --upstream 127.0.0.1:9; }
pids+=("$BERTHDNS_PID")
read -r _ berthport <&"${BERTHDNS[0]}"
dnsmasq --keep-in-foreground --no-resolv --no-hosts --addn-hosts="$work/hosts" --listen-address=127.0.0.1 \
  --bind-interfaces --port=15353 --user=root --pid-file= --cache-size=1000 &
pids+=("$!")
for _ in $(seq 200); do grep -qi ':3C39 ' /proc/net/udp && break; sleep 0.01; done
declare -A qps
for round in 1 2 3; do
  for server in "berth $berthport" "dnsmasq 15353"; do
    set -- $server
    q=$(dnsperf -s 127.0.0.1 -p "$2" -d "$work/queries" -l 5 -c 4 -q 200 2>/dev/null | awk '/Queries per second/ {print $4}')
    qps[$1]="${qps[$1]:-} $q"
  done
done
echo "| server | median queries/s | runs |"
echo "|---|---|---|"
for s in berth dnsmasq; do echo "| $s | $(median ${qps[$s]}) | ${qps[$s]} |"; done
