#!/usr/bin/env bash
# bench/volume.sh — storage inside a berth container vs directly on the host, several runs,
# medians:
#  (a) sequential write throughput, `dd bs=1M conv=fsync`, into a named volume from inside a
#      container vs into a directory on the same file system from the host (the same
#      busybox dd both times, timed the same way), with the ratio (goal: >= 95%);
#  (b) sequential read throughput of that file, page cache dropped before each run;
#  (c) copy-up of a 100 MB image directory (1000 files of 100 kB in 10 directories) into an
#      empty volume at a container's start: the start with copy-up minus the start with
#      `nocopy`, next to `cp -a` + `sync` of the same tree on the host.
# The containers are started by `berth-runtime run --spec` (what the engine runs for each
# container) with a volume mount as `up` writes it.
# Usage: bench/volume.sh [RUNS] [MB]   (default 7 runs, 1024 MB for (a) and (b)).
# Needs root. Installs busybox-static with apt when missing. Leaves nothing behind (trap).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${1:-7}
mb=${2:-1024}

[ -x /bin/busybox ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends busybox-static; }
swift build -c release --static-swift-stdlib >/dev/null
bin=$(swift build -c release --static-swift-stdlib --show-bin-path)
berth=$bin/berth
runtime=$bin/berth-runtime

# On the disk (not /tmp, which may be a tmpfs): volumes live in berth's persistent root.
work=$(mktemp -d /var/tmp/berth-volbench.XXXXXX)
B="$berth --root $work/root --run-root $work/run"
cleanup() {
  umount -l "$work/run/runtime" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

rootfs=$work/rootfs
busybox_rootfs "$rootfs"

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }

# A spec for `berth-runtime run --spec`: root, command, one volume mount (fields as
# ContainerSpec.encoded writes them: kind, name, target, ro|rw, flags, propagation,
# recursion, volume directory, copy-up, subpath, fs type, device, options).
spec() { # name root-lines volume-dir copy script
  local file=$work/$1.spec
  {
    printf 'berth-spec 1\nname %s\nproject volbench\n%s\n' "$1" "$2"
    printf 'arg sh\narg -c\narg %s\n' "$5"
    printf 'env PATH=/bin\ncwd /\nuser 0\n'
    printf 'mount volume\t%s\t/data\trw\t0\t\tenabled\t%s\t%s\t\t\t\t\n' "$(basename "$3")" "$3" "$4"
  } >"$file"
  echo "$file"
}
run_spec() { "$runtime" run --spec "$1" --run-root "$work/run"; }

$B volume create benchvol >/dev/null
volume=$work/root/volumes/benchvol
host=$work/host
mkdir -p "$host"
fs=$(stat -f -c %T "$volume/_data")

# Debian's busybox dd prints no rate, and its date has no nanoseconds: the same shell
# snippet times dd with /proc/uptime (10 ms ticks; hence the large default size) on the host
# and inside the container, so that neither side pays for starting a process or a container.
timed_dd() { # DIR DD-ARGS... (run by busybox sh, on the host or in the container)
  echo "a=\$(cut -d' ' -f1 /proc/uptime); dd $* 2>/dev/null; b=\$(cut -d' ' -f1 /proc/uptime); echo \$a \$b"
}
mbps() { awk -v mb="$mb" '{ printf "%.1f\n", mb / ($2 - $1) }'; }
timed_ms() { local t0 t1; t0=${EPOCHREALTIME/./}; "$@" >/dev/null; t1=${EPOCHREALTIME/./}; echo "$(( (t1 - t0) / 1000 )).$(( (t1 - t0) % 1000 / 100 ))"; }

# Host and container runs alternate, so that the machine's other load falls on both.
compare() { # label host-script container-spec prepare-command
  local on_host=() in_container=()
  for _ in $(seq "$runs"); do
    eval "$4"; on_host+=("$(busybox sh -c "$2" | mbps)")
    eval "$4"; in_container+=("$(run_spec "$3" | mbps)")
  done
  local h v
  h=$(median "${on_host[@]}"); v=$(median "${in_container[@]}")
  echo "host directory:           ${on_host[*]} MB/s  median $h"
  echo "named volume (container): ${in_container[*]} MB/s  median $v"
  python3 -c "print(f'ratio: {$v / $h * 100:.0f}% of the host')"
}

echo "== (a) write ${mb} MB, dd bs=1M conv=fsync ($runs runs each; file system: $fs)"
compare write "$(timed_dd if=/dev/zero of="$host/f" bs=1M count="$mb" conv=fsync)" \
  "$(spec w "root-directory $rootfs	rw" "$volume" 1 "$(timed_dd if=/dev/zero of=/data/f bs=1M count="$mb" conv=fsync)")" \
  'rm -f "$host/f" "$volume/_data/f"; drop_caches'

echo "== (b) read ${mb} MB, dd bs=1M, page cache dropped ($runs runs each)"
busybox dd if=/dev/zero of="$host/f" bs=1M count="$mb" conv=fsync 2>/dev/null
cp "$host/f" "$volume/_data/f"
compare read "$(timed_dd if="$host/f" of=/dev/null bs=1M)" \
  "$(spec r "root-directory $rootfs	rw" "$volume" 1 "$(timed_dd if=/data/f of=/dev/null bs=1M)")" 'drop_caches'
[ -w /proc/sys/vm/drop_caches ] || echo "(could not drop the page cache: reads may come from memory)"
rm -f "$host/f" "$volume/_data/f"

echo "== (c) copy-up of a 100 MB image directory ($runs runs each)"
image=$work/image
for d in $(seq 0 9); do
  mkdir -p "$image/data/d$d"
  for f in $(seq 0 99); do head -c 102400 /dev/urandom >"$image/data/d$d/f$f"; done
done
mkdir -p "$work/overlay"
root_lines="root-overlay $work/overlay	rw
lower $image
lower $rootfs"
# Each run gets a fresh, empty volume directory (made untimed) behind a symlink, so that no
# run pays for deleting the previous one's files (ext4 is slow to reuse freed inodes).
fresh() { local dir=$work/cu.$RANDOM$RANDOM; mkdir -p "$dir/_data"; ln -sfn "$dir" "$work/cu"; }
copy_spec=$(spec cu "$root_lines" "$work/cu" 1 "true")
nocopy_spec=$(spec nc "$root_lines" "$work/cu" 0 "true")
with=(); without=(); cp_times=()
for _ in $(seq "$runs"); do
  fresh; drop_caches; with+=("$(timed_ms run_spec "$copy_spec")")
  [ "$(find "$work/cu/_data" -type f | wc -l)" = 1000 ] || { echo "copy-up did not copy 1000 files" >&2; exit 1; }
  fresh; drop_caches; without+=("$(timed_ms run_spec "$nocopy_spec")")
  dest=$work/cp.$RANDOM$RANDOM; drop_caches; cp_times+=("$(timed_ms sh -c "cp -a '$image/data' '$dest' && sync")")
done
mw=$(median "${with[@]}"); mo=$(median "${without[@]}"); mc=$(median "${cp_times[@]}")
echo "container start with copy-up:  median $mw ms"
echo "container start with nocopy:   median $mo ms"
python3 -c "print(f'copy-up: {$mw - $mo:.1f} ms for 100 MB ({100 / (($mw - $mo) / 1000):.0f} MB/s)')"
echo "cp -a + sync on the host:      median $mc ms"
