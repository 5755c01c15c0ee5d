# Shared by the bench scripts (source it): small helpers, no side effects.

# busybox_rootfs DIR: Debian's static busybox with its applets and a root user, like the
# tests use.
busybox_rootfs() {
  mkdir -p "$1"/{bin,etc,tmp,proc,sys,dev}
  cp /bin/busybox "$1/bin/"
  chroot "$1" /bin/busybox --install -s /bin
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$1/etc/passwd"
  printf 'root:x:0:\n' >"$1/etc/group"
}

# median X...: the median of numbers, two decimals.
median() { python3 -c 'import statistics,sys; print(f"{statistics.median(float(x) for x in sys.argv[1:]):.2f}")' "$@"; }
