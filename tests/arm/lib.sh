# Shared by tests/arm/test_arm.sh, tests/arm/inroot.sh and tests/arm/run_in_root.sh (sourced, not run).
# The emulated arm64 root: may this machine make it (arm_preflight), make or restore it and install
# edgeshare from this checkout in it (arm_prepare), and, inside a private mount + PID namespace, mount
# what it needs and run commands in it (arm_mount, inroot).
# Needs: REPO (the checkout), PY (the host's Python with edgeshare's dev install).

ARM_SUITE=bookworm  # its python3 is 3.11: the cp311 wheels below
ARM_PYVER=3.11
ARM_INCLUDE=python3,openssh-server
ARM_MIRROR="${EDGESHARE_ARM_MIRROR:-http://deb.debian.org/debian}"
ARM_CACHE="${EDGESHARE_ARM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgeshare/arm}"
# The emulated CPU. qemu 7.2's default (`max`: i8mm, SVE2, SME, ...) computes wrong int8 results in both
# XNNPACK and onnxruntime (int8 outputs 130 steps off, cosine 0.08-0.6 against x86, where cortex-a72,
# cortex-a76, neoverse-n1 and a64fx all agree with x86), so the root runs as a Cortex-A76 (Raspberry Pi 5:
# NEON with dot product), and /proc/cpuinfo says so.
ARM_QEMU_CPU=cortex-a76
ARM_CPU_FEATURES="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp"
ARM_CPU_MIDR="0x4 0xd0b 1"  # variant, part, revision of a Cortex-A76 r4p1
# Bump when the way the root is made changes (the cache key holds it beside the recipe).
ARM_ROOT_RECIPE=1

say() { printf 'test-arm: %s\n' "$*"; }

# Prints why this machine cannot run the arm64 root and returns 1; returns 0 when it can (installing
# qemu-user-static, debootstrap and binfmt-support with apt-get, and registering qemu-aarch64, if needed).
arm_preflight() {
  [ "$(uname -s)" = Linux ] || { echo "needs Linux (binfmt_misc and chroot); this is $(uname -s)"; return 1; }
  [ "$(uname -m)" = x86_64 ] || { echo "written for an x86_64 host emulating aarch64; this host is $(uname -m)"; return 1; }
  [ "$(id -u)" = 0 ] || { echo "needs root (debootstrap, chroot, mount, binfmt_misc); running as uid $(id -u)"; return 1; }
  local tool
  for tool in unshare chroot mount umount tar ssh ssh-keygen; do
    command -v "$tool" >/dev/null || { echo "needs $tool, which is missing"; return 1; }
  done
  local need=()
  command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v update-binfmts >/dev/null || need+=(binfmt-support)
  if [ ${#need[@]} -gt 0 ]; then
    command -v apt-get >/dev/null || { echo "needs ${need[*]} and there is no apt-get to install them"; return 1; }
    say "installing ${need[*]} with apt-get" >&2
    if ! { apt-get -o DPkg::Lock::Timeout=300 update -q \
           && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q \
              --no-install-recommends "${need[@]}"; } >/tmp/edgeshare-arm-apt.log 2>&1; then
      echo "apt-get could not install ${need[*]} (log: /tmp/edgeshare-arm-apt.log)"; return 1
    fi
  fi
  local binfmt=/proc/sys/fs/binfmt_misc
  if [ ! -e "$binfmt/register" ]; then
    # Left mounted afterwards, as systemd's proc-sys-fs-binfmt_misc.mount would: it is the kernel's
    # registry of interpreters, not part of the arm64 root.
    mount -t binfmt_misc binfmt_misc "$binfmt" 2>/dev/null || { echo "cannot mount binfmt_misc on $binfmt"; return 1; }
  fi
  [ -e "$binfmt/qemu-aarch64" ] || update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
  [ -e "$binfmt/qemu-aarch64" ] \
    || { echo "could not register qemu-aarch64 with binfmt_misc (update-binfmts --enable qemu-aarch64)"; return 1; }
  # The F flag makes the kernel open the interpreter at registration, so it works inside the chroot too.
  grep -q '^flags:.*F' "$binfmt/qemu-aarch64" || {
    echo "qemu-aarch64 is registered without the F (fix-binary) flag, which chroot needs (Debian's has it)"; return 1; }
  return 0
}

# arm_prepare WORK: WORK/root becomes the arm64 root with the light runtime's aarch64 wheels (restored
# from ARM_CACHE or built, then cached) and edgeshare from this checkout; WORK/root/opt/edgeshare/src holds
# a copy of tests/ and pyproject.toml. Sets ROOT.
arm_prepare() {
  local work="$1"
  ROOT="$work/root"
  local reqs recipe key ext comp decomp tarball
  reqs="$("$PY" "$REPO/tests/arm/root_requirements.py" "$REPO/pyproject.toml")" || return 1
  recipe="recipe=$ARM_ROOT_RECIPE suite=$ARM_SUITE variant=minbase include=$ARM_INCLUDE mirror=$ARM_MIRROR
python=$ARM_PYVER
$reqs"
  key="$(printf '%s' "$recipe" | sha256sum | cut -c1-16)"
  if command -v zstd >/dev/null; then ext=tar.zst; comp=(zstd -q -T0 -3); decomp=(zstd -q -d -c)
  else ext=tar.gz; comp=(gzip -1); decomp=(gzip -d -c); fi
  tarball="$ARM_CACHE/arm64-root-$key.$ext"
  mkdir -p "$ROOT"
  if [ -f "$tarball" ]; then
    say "restoring the arm64 root from $tarball"
    "${decomp[@]}" "$tarball" | tar -C "$ROOT" --numeric-owner -xpf - || return 1
  else
    say "building the arm64 root (debootstrap $ARM_SUITE arm64 minbase + $ARM_INCLUDE; ~7 min; log /tmp/edgeshare-arm-debootstrap.log)"
    nice -n 10 debootstrap --arch=arm64 --variant=minbase --include="$ARM_INCLUDE" "$ARM_SUITE" "$ROOT" "$ARM_MIRROR" \
      >/tmp/edgeshare-arm-debootstrap.log 2>&1 \
      || { say "error: debootstrap failed:" >&2; tail -20 /tmp/edgeshare-arm-debootstrap.log >&2; return 1; }
    [ -x "$ROOT/usr/bin/python$ARM_PYVER" ] \
      || { say "error: the root has no python$ARM_PYVER; the wheels are cp${ARM_PYVER/./}" >&2; return 1; }
    # A lighter tarball: no package lists, caches, docs or locales (and no host keys: made per run).
    rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/* "$ROOT"/usr/share/doc/* \
      "$ROOT"/usr/share/man/* "$ROOT"/usr/share/locale/* "$ROOT"/etc/ssh/ssh_host_*
    say "installing the aarch64 wheels with the host's pip: $(echo "$reqs" | tr '\n' ' ')"
    local site="$ROOT/usr/local/lib/python$ARM_PYVER/dist-packages" platforms=() minor req_lines
    # pip takes one tag per --platform: every manylinux glibc level a wheel may name.
    for minor in $(seq 17 36); do platforms+=(--platform "manylinux_2_${minor}_aarch64"); done
    platforms+=(--platform manylinux2014_aarch64 --platform linux_aarch64)
    mapfile -t req_lines <<<"$reqs"
    nice -n 10 "$PY" -m pip install -q --disable-pip-version-check --no-compile --only-binary=:all: \
      "${platforms[@]}" --python-version "$ARM_PYVER" --implementation cp --abi "cp${ARM_PYVER/./}" --target "$site" \
      "${req_lines[@]}" >/tmp/edgeshare-arm-pip.log 2>&1 \
      || { say "error: pip could not install the aarch64 wheels:" >&2; tail -20 /tmp/edgeshare-arm-pip.log >&2; return 1; }
    rm -rf "$site/bin"  # console scripts with the host's interpreter in their #! line
    mkdir -p "$ARM_CACHE"
    find "$ARM_CACHE" -maxdepth 1 -name 'arm64-root-*' -delete  # one root at a time
    tar -C "$ROOT" --numeric-owner -cf - . | "${comp[@]}" >"$tarball.part" && mv "$tarball.part" "$tarball" \
      || { say "error: could not write $tarball" >&2; return 1; }
    say "cached the root: $tarball ($(du -m "$tarball" | cut -f1) MiB)"
  fi
  # edgeshare from this checkout: its wheel, built from a copy (so that setuptools' build/ folder does
  # not land among the exports in build/), installed beside the wheels without dependencies.
  local stage="$work/stage"
  mkdir -p "$stage/src" "$ROOT/opt/edgeshare/src"
  tar -C "$REPO" --exclude=__pycache__ -cf - pyproject.toml setup.py README.md edgeshare converters models \
    | tar -C "$stage/src" -xf -
  { "$PY" -m pip wheel -q --disable-pip-version-check --no-deps -w "$stage/wheel" "$stage/src" \
    && "$PY" -m pip install -q --disable-pip-version-check --no-deps --no-compile --target "$stage/site" \
       "$stage"/wheel/edgeshare-*.whl; } >/tmp/edgeshare-arm-wheel.log 2>&1 \
    || { say "error: could not build or install edgeshare's wheel:" >&2; tail -20 /tmp/edgeshare-arm-wheel.log >&2; return 1; }
  sed '1s|.*|#!/usr/bin/python3|' "$stage/site/bin/edgeshare" >"$ROOT/usr/local/bin/edgeshare"
  chmod 0755 "$ROOT/usr/local/bin/edgeshare"
  rm -rf "$stage/site/bin"
  cp -a "$stage/site/." "$ROOT/usr/local/lib/python$ARM_PYVER/dist-packages/"
  tar -C "$REPO" --exclude=__pycache__ -cf - pyproject.toml tests | tar -C "$ROOT/opt/edgeshare/src" -xf -
  ARM_EDGESHARE_WHEEL="$(basename "$stage"/wheel/edgeshare-*.whl)"
}

# arm_remove_work WORK: deletes it, unless a mount is still under it (rm -rf would reach into it).
arm_remove_work() {
  local work="$1"
  if grep -q " $work/" /proc/mounts; then
    say "warning: mounts left under $work; not deleting it:" >&2
    grep " $work/" /proc/mounts >&2
    return 1
  fi
  rm -rf --one-file-system "$work"
}

# ---- inside `unshare --mount --pid --fork`: every mount and process below ends with the namespace -------
ARM_MOUNTED=()
_arm_mount() {  # _arm_mount TARGET mount-args...: remembers TARGET for arm_unmount, newest first
  local target="$1"; shift
  mount "$@" "$target" && ARM_MOUNTED=("$target" "${ARM_MOUNTED[@]}")
}

# arm_mount ROOT WORK: /proc (with an aarch64 /proc/cpuinfo over it), /sys, a small /dev.
arm_mount() {
  local root="$1" work="$2" i spec
  mount -t proc proc /proc  # this namespace's own, for the host-side tools
  _arm_mount "$root/proc" -t proc proc || return 1
  # qemu-user 7.2 passes the host's x86 /proc/cpuinfo through; LiteRT (XNNPACK) and onnxruntime read it to
  # pick kernels and segfault on an x86 one. Give them the one of the emulated CPU (ARM_QEMU_CPU), one
  # entry per core.
  for ((i = 0; i < $(nproc); i++)); do
    printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\n' "$i" "$ARM_CPU_FEATURES"
    printf 'CPU architecture: 8\nCPU variant\t: %s\nCPU part\t: %s\nCPU revision\t: %s\n\n' $ARM_CPU_MIDR
  done >"$work/cpuinfo"
  _arm_mount "$root/proc/cpuinfo" --bind "$work/cpuinfo" || return 1
  _arm_mount "$root/sys" -t sysfs -o ro sysfs || say "warning: could not mount /sys in the root (runs without it)"
  # A small /dev of our own, not a bind of the host's: nothing in it reaches the host's device files.
  _arm_mount "$root/dev" -t tmpfs -o mode=0755,nosuid,size=1m dev || return 1
  for spec in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0"; do
    set -- $spec
    mknod -m 0666 "$root/dev/$1" c "$2" "$3" || return 1
  done
  mkdir -p "$root/dev/pts" "$root/dev/shm"
  _arm_mount "$root/dev/pts" -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts || return 1
  ln -s pts/ptmx "$root/dev/ptmx"
  _arm_mount "$root/dev/shm" -t tmpfs -o mode=1777,nosuid,nodev,size=256m shm || return 1
  ln -s /proc/self/fd "$root/dev/fd"
  ln -s /proc/self/fd/0 "$root/dev/stdin"; ln -s /proc/self/fd/1 "$root/dev/stdout"
  ln -s /proc/self/fd/2 "$root/dev/stderr"
  chmod 1777 "$root/tmp"
}

# arm_bind ROOT DIR: DIR (a host folder) at the same path inside the root, read-write.
arm_bind() {
  mkdir -p "$1/$2" && _arm_mount "$1/$2" --bind "$2"
}

arm_unmount() {
  local m
  for m in "${ARM_MOUNTED[@]}"; do umount "$m" 2>/dev/null || umount -l "$m"; done
  ARM_MOUNTED=()
}

# Every command in the root starts from an empty environment: nothing of the host's leaks in.
# EDGESHARE_EMULATED=1 makes the tests skip what cannot hold under emulation (RSS, timing).
# QEMU_CPU is read by the qemu that binfmt_misc starts for each aarch64 program.
ARM_ENV=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TMPDIR=/tmp
         EDGESHARE_EMULATED=1 EDGESHARE_HISTORY= TF_CPP_MIN_LOG_LEVEL=3 QEMU_CPU="$ARM_QEMU_CPU")
inroot() { chroot "$ROOT" /usr/bin/env -i "${ARM_ENV[@]}" "$@"; }
inroot_in() {  # inroot_in DIR command...: in that folder of the root
  local dir="$1"; shift
  chroot "$ROOT" /usr/bin/env -i "${ARM_ENV[@]}" /bin/sh -c 'cd "$0" && exec "$@"' "$dir" "$@"
}
