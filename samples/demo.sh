#!/usr/bin/env bash
# `make demo`: everything a fresh machine needs to run samples/web-worker with berth, offline.
# Imports a busybox image from Debian's busybox-static when the store has none (where there is
# internet, `berth pull busybox` fetches the real one), brings the stack up, shows it, and says
# how to reach it and take it down.
set -euo pipefail
berth="${BERTH:?set BERTH to the berth binary}"
here="$(cd "$(dirname "$0")" && pwd)"
compose="$here/web-worker/compose.yaml"

if ! "$berth" image inspect busybox >/dev/null 2>&1; then
    rootfs="$(mktemp -d)"
    trap 'rm -rf "$rootfs"' EXIT
    mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/srv"
    cp /bin/busybox "$rootfs/bin/busybox"
    /usr/sbin/chroot "$rootfs" /bin/busybox --install -s /bin
    echo 'root:x:0:0:root:/root:/bin/sh' > "$rootfs/etc/passwd"
    echo 'root:x:0:' > "$rootfs/etc/group"
    echo "importing busybox from $(command -v busybox || echo /bin/busybox) as busybox:latest"
    "$berth" image import --change 'CMD ["sh"]' "$rootfs" busybox:latest
fi

"$berth" -f "$compose" up -d
echo
"$berth" -f "$compose" ps
echo
echo "The stack runs. Try:"
echo "  curl http://127.0.0.1:8080/"
echo "  $berth -f $compose logs -f worker"
echo "  $berth -f $compose exec web sh"
echo "Take it down (and its volume) with:"
echo "  $berth -f $compose down -v"
echo
# Wait (on the worker's log, not a timer) until the worker has written its first page.
timeout 30 "$berth" -f "$compose" logs -f worker 2>/dev/null | grep -m1 -q "web answered" || true
printf 'web answers: '
busybox wget -q -O - http://127.0.0.1:8080/index.html || echo "(nothing yet; try curl http://127.0.0.1:8080/)"
