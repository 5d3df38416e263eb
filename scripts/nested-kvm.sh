#!/bin/bash
# nested-kvm.sh — run a command inside a QEMU/TCG VM that has a (nested, emulated-SVM) /dev/kvm.
#
# Why: some hosts offer no /dev/kvm at all (a kernel that is itself a PVM guest refuses to bind
# kvm-pvm). QEMU's software emulation implements AMD SVM, so a Debian kernel under it loads kvm_amd
# and offers a real /dev/kvm. scripts/test uses this to run Vessel's KVM tests on such hosts, against
# a real KVM rather than skipping them. Guest code runs at emulation speed there; use it for tests,
# not for benchmarks of absolute speed.
#
# Usage:  nested-kvm.sh [--] CMD [ARGS...]
#   The command runs as root via `chroot /host sh -c ...` where /host is the host's / shared
#   read-only over virtio-9p, so every host path is visible at the same path. /tmp is a fresh
#   tmpfs (writable), /dev is the guest's devtmpfs (contains /dev/kvm), /proc and /sys are the
#   guest's. The working directory is the caller's $PWD. stdout+stderr of the command (merged,
#   stdin is /dev/null) are streamed to this script's stdout; guest console (kernel log, init
#   errors) goes to stderr. The script exits with the command's exit status.
#   With TCG_INTERACTIVE=1 the command's stdin, stdout and stderr are instead a serial terminal
#   (the VM's ttyS1) on this script's own stdin and stdout, for interactive programs (`./vessel run`
#   on a host without /dev/kvm); QEMU passes every key through, Ctrl-C included.
#
# Environment knobs:
#   TCG_RW_DIRS="dir1 dir2"  host directories to share READ-WRITE (at the same path)
#   TCG_CPU=max              QEMU -cpu model (default: max)
#   TCG_SMP=2  TCG_MEM=4G    guest vCPUs / memory
#   TCG_TIMEOUT=1800         seconds before the VM is killed (exit status 124)
#   TCG_ENV="A=1 B=2"        extra environment for the command (PATH/HOME/JAVA_HOME are passed)
#   TCG_VERBOSE=1            show full kernel log + init messages on stderr
#   TCG_INTERACTIVE=1        the command on a terminal (see above)
#   TCG_WORKDIR=<repo>/.cache/nested-kvm   cache dir (kernel + initramfs)
#
# Requires (Debian 12): qemu-system-x86 busybox-static cpio kmod (apt-get install ...), and
# `apt-get download` access for the linux-image-*-amd64 package (first run only).
set -euo pipefail

[ "${1:-}" = "--" ] && shift
[ $# -ge 1 ] || { sed -n '2,20p' "$0"; exit 2; }

WORK=${TCG_WORKDIR:-$(cd "$(dirname "$0")/.." && pwd)/.cache/nested-kvm}
CPU=${TCG_CPU:-max}
SMP=${TCG_SMP:-2}
MEM=${TCG_MEM:-4G}
TIMEOUT=${TCG_TIMEOUT:-1800}
mkdir -p "$WORK"

log() { [ -n "${TCG_VERBOSE:-}" ] && echo "[nested-kvm] $*" >&2 || true; }

need() { command -v "$1" >/dev/null || { echo "nested-kvm: missing $1 (apt-get install -y $2)" >&2; exit 3; }; }
need qemu-system-x86_64 qemu-system-x86
need cpio cpio
need depmod kmod
[ -x /bin/busybox ] || { echo "nested-kvm: missing /bin/busybox (apt-get install -y busybox-static)" >&2; exit 3; }

# ---------- kernel + initramfs (cached) ----------
build_initramfs() {
  local kpkg kver kdir rd m
  kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/.*Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -1)
  [ -n "$kpkg" ] || { echo "nested-kvm: cannot resolve linux-image-amd64 (run apt-get update)" >&2; exit 3; }
  kver=${kpkg#linux-image-}
  kdir=$WORK/kernel
  rm -rf "$kdir" "$WORK/debs"; mkdir -p "$kdir" "$WORK/debs"
  (cd "$WORK/debs" && apt-get download "$kpkg" >/dev/null 2>&1) || { echo "nested-kvm: apt-get download $kpkg failed" >&2; exit 3; }
  dpkg-deb -x "$WORK"/debs/"$kpkg"_*.deb "$kdir"
  rm -rf "$WORK/debs"
  depmod -b "$kdir" "$kver"
  cp "$kdir/boot/vmlinuz-$kver" "$WORK/vmlinuz"

  rd=$WORK/rd; rm -rf "$rd"; mkdir -p "$rd"/{bin,dev,proc,sys,host,xfer,lib/modules,tmp}
  cp /bin/busybox "$rd/bin/busybox"
  for a in sh mount umount insmod mkdir cat echo chroot poweroff sleep ls dmesg grep mknod ip df free date head mv; do ln -s busybox "$rd/bin/$a"; done
  : > "$rd/modules.list"
  for m in kvm_amd kvm_intel 9pnet_virtio 9p virtio_pci tun; do  # tun: the network test's TAP
    modprobe -d "$kdir" -S "$kver" --show-depends "$m" | awk '$1=="insmod"{print $2}'
  done | awk '!seen[$0]++' | while read -r f; do
    cp "$f" "$rd/lib/modules/"; echo "$(basename "$f")" >> "$rd/modules.list"
  done
  cat > "$rd/init" <<'EOF'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
V=$(sed -n 's/.*tcgverbose=\([0-9]\).*/\1/p' /proc/cmdline)
for m in $(cat /modules.list); do
  case $m in kvm-intel.ko) continue;; esac   # AMD SVM is what TCG emulates
  insmod /lib/modules/$m 2>/dev/null || { [ "$V" = 1 ] && echo "init: insmod $m failed"; }
done
fail() { echo "init: $*" >/dev/console; dmesg | tail -20 >/dev/console; poweroff -f; }
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro hostroot /host || fail "9p hostroot mount failed"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=none xfer /xfer || fail "9p xfer mount failed"
mount -t proc proc /host/proc; mount -t sysfs sysfs /host/sys; mount -t devtmpfs devtmpfs /host/dev
mkdir -p /host/dev/pts /host/dev/shm 2>/dev/null; mount -t devpts devpts /host/dev/pts 2>/dev/null
mount -t tmpfs tmpfs /host/dev/shm; mount -t tmpfs -o mode=1777 tmpfs /host/tmp
i=0
for d in $(cat /xfer/rwdirs 2>/dev/null); do
  # under /tmp (a fresh tmpfs here) the mount point has to be made first
  mkdir -p /host$d 2>/dev/null
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=mmap rw$i /host$d || fail "9p rw$i ($d) mount failed"
  i=$((i+1))
done
ip link set lo up  # loopback: tests serve and connect on 127.0.0.1 (the browser console's)
[ -c /dev/kvm ] || { echo "init: /dev/kvm missing" >/dev/console; dmesg | grep -iE 'kvm|svm' >/dev/console; }
[ "$V" = 1 ] && echo "init: starting command" >/dev/console
mkdir /host/tmp/.nested-kvm; mount --bind /xfer /host/tmp/.nested-kvm
# Memory and /tmp use every 15 s, so a VM that dies without a status says whether it was running short
# (its /tmp is RAM); the host prints the last sample then.
while sleep 15; do { date; free -m; df -m /host/tmp /host/dev/shm; } > /xfer/mem.tmp 2>&1 && mv /xfer/mem.tmp /xfer/mem.last; done &
monitor=$!
# output goes to a file on the xfer share (~1 MB/s; the emulated 16550 does ~40-90 KB/s);
# the host streams it with tail -f
if [ -e /xfer/interactive ]; then
  chroot /host /bin/sh /tmp/.nested-kvm/cmd.sh </dev/ttyS1 >/dev/ttyS1 2>&1 &
else
  chroot /host /bin/sh /tmp/.nested-kvm/cmd.sh </dev/null >/xfer/out 2>&1 &
fi
wait $!
echo $? > /xfer/status
kill $monitor
sync; umount /host/tmp/.nested-kvm; umount /xfer
poweroff -f
EOF
  chmod +x "$rd/init"
  (cd "$rd" && find . | cpio -o -H newc --quiet | gzip -1) > "$WORK/initrd.gz.tmp"
  mv "$WORK/initrd.gz.tmp" "$WORK/initrd.gz"
  echo "$kpkg" > "$WORK/kernel.pkg"
  rm -rf "$rd" "$kdir"
}
# bump when build_initramfs/init changes
INITRD_VERSION=10
if [ ! -s "$WORK/initrd.gz" ] || [ ! -s "$WORK/vmlinuz" ] || [ "$(cat "$WORK/initrd.version" 2>/dev/null)" != "$INITRD_VERSION" ]; then
  echo "[nested-kvm] building kernel+initramfs in $WORK ..." >&2
  build_initramfs
  echo "$INITRD_VERSION" > "$WORK/initrd.version"
fi

# ---------- per-run transfer dir ----------
XFER=$(mktemp -d /tmp/nested-kvm.XXXXXX)
qpid=; tpid=
trap 'for p in $qpid $tpid; do kill "$p" 2>/dev/null || true; done; rm -rf "$XFER"' EXIT
trap 'exit 130' INT TERM
# shared read-write as 9p tag "xfer"; the guest binds it at /tmp/.nested-kvm inside the chroot
{
  echo '#!/bin/sh'
  printf 'export PATH=%q HOME=%q\n' "$PATH" "${HOME:-/root}"
  [ -n "${JAVA_HOME:-}" ] && printf 'export JAVA_HOME=%q\n' "$JAVA_HOME"
  # Inside, /dev/kvm is the nested one: Vessel must run there, not look for another nested VM.
  echo 'export VESSEL_NESTED_KVM=0'
  for kv in ${TCG_ENV:-}; do printf 'export %q\n' "$kv"; done
  printf 'cd %q 2>/dev/null || cd /\n' "$PWD"
  printf 'exec'; printf ' %q' "$@"; printf '\n'
} > "$XFER/cmd.sh"
: > "$XFER/rwdirs"
# The command's terminal: the VM's second serial port on this script's stdin/stdout (raw, keys passed
# through); otherwise its output goes through the xfer share and stdin is /dev/null.
TERMARGS=()
QEMU_STDIN=/dev/null
TIMEOUT_ARGS=(-k 5)
if [ -n "${TCG_INTERACTIVE:-}" ]; then
  : > "$XFER/interactive"
  TERMARGS=(-chardev stdio,id=term,signal=off -serial chardev:term)
  QEMU_STDIN=/dev/stdin
  TIMEOUT_ARGS+=(--foreground) # timeout would otherwise move QEMU out of the terminal's foreground group
fi
RWARGS=()
i=0
for d in ${TCG_RW_DIRS:-}; do
  d=$(cd "$d" && pwd)
  echo "$d" >> "$XFER/rwdirs"
  RWARGS+=(-virtfs "local,path=$d,mount_tag=rw$i,security_model=none")
  i=$((i+1))
done
VERB=0; [ -n "${TCG_VERBOSE:-}" ] && VERB=1
APPEND="console=ttyS0 panic=-1 tcgverbose=$VERB"
# loglevel=4: errors and worse still reach the console (a panic, an oops, the OOM killer), the rest not
[ "$VERB" = 1 ] || APPEND="$APPEND quiet loglevel=4"

log "kernel $(cat "$WORK/kernel.pkg"), cpu=$CPU smp=$SMP mem=$MEM"
: > "$XFER/out"
set +e
timeout "${TIMEOUT_ARGS[@]}" "$TIMEOUT" qemu-system-x86_64 \
  -accel tcg,thread=multi -M q35 -cpu "$CPU" -smp "$SMP" -m "$MEM" \
  -nodefaults -no-user-config -display none -monitor none -no-reboot -D "$XFER/qemu.log" -d cpu_reset \
  -chardev file,id=ser,path=/dev/fd/2,append=on -serial chardev:ser "${TERMARGS[@]}" \
  -kernel "$WORK/vmlinuz" -initrd "$WORK/initrd.gz" -append "$APPEND" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=$XFER,mount_tag=xfer,security_model=none" \
  "${RWARGS[@]}" <"$QEMU_STDIN" &
qpid=$!
tail -c +1 -f --pid=$qpid "$XFER/out" &
tpid=$!
wait $qpid; qrc=$?
wait $tpid
set -e
if [ "$qrc" = 124 ]; then echo "nested-kvm: timeout after ${TIMEOUT}s" >&2; exit 124; fi
if [ -s "$XFER/status" ]; then exit "$(cat "$XFER/status")"; fi
echo "nested-kvm: VM ended without a status (qemu rc=$qrc)" >&2
# A triple fault resets the CPU, and -no-reboot then ends QEMU with status 0: its register dump says so
resets=$(grep -c '^CPU Reset' "$XFER/qemu.log" 2>/dev/null || true)
echo "nested-kvm: $resets CPU resets logged by QEMU (one per vCPU at start-up); the last one's registers:" >&2
awk '/^CPU Reset/ { n = NR } { line[NR] = $0 } END { for (i = n; i <= NR && i < n + 12; i++) print line[i] }' "$XFER/qemu.log" >&2 2>/dev/null || true
[ -s "$XFER/mem.last" ] && { echo "nested-kvm: the VM's last memory sample:" >&2; cat "$XFER/mem.last" >&2; }
exit 125
