#!/usr/bin/env bash
# `make test-arm`: edgeshare's light runtime on aarch64 binaries under QEMU user emulation (issue 14).
#
#  1. Makes a Debian bookworm arm64 root with debootstrap (or restores it from a cached tarball), with the
#     aarch64 wheels of the light runtime installed by the host's pip, and edgeshare from this checkout.
#  2. Runs every reference export (build/, from `make export`; exported first unless fresh) on x86_64.
#  3. In a private mount + PID namespace (every mount and process made there ends with it), mounts /proc
#     (an aarch64 /proc/cpuinfo over it), /sys and a small /dev, and runs (tests/arm/inroot.sh):
#       - `edgeshare verify` and `edgeshare bench` on real exports, inside the root;
#       - the light runtime's tests inside the root (tests/arm/inroot_pytest.sh);
#       - every reference export on aarch64, on the same inputs (tests/arm/run_models.py);
#       - `edgeshare bench --device ssh:` from the x86 side against an aarch64 sshd started inside the
#         root on 127.0.0.1 (tests/arm/test_ssh_aarch64.py: machine aarch64, a hostile name runs nothing).
#  4. Compares the two CPUs' outputs within stated tolerances and prints a table (tests/arm/compare_outputs.py).
#
# Exits 0 with one line `test-arm: skipped: WHY` where the machine does not allow it (not root, not an
# x86_64 Linux, no binfmt_misc, no qemu-user-static/debootstrap and apt-get cannot install them).
# Environment: EDGESHARE_ARM_CACHE (default ~/.cache/edgeshare/arm), EDGESHARE_ARM_WORK (default /var/tmp),
# EDGESHARE_ARM_KEEP=1 keeps the work folder, BUILD (default build) the reference exports,
# EDGESHARE_ARM_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$REPO"
BUILD="${BUILD:-build}"
PY="${PY:-$REPO/.venv/bin/python}"
export REPO PY
source "$HERE/lib.sh"
T0=$(date +%s)
elapsed() { echo "$(( $(date +%s) - T0 )) s"; }

why="$(arm_preflight)" || { say "skipped: $why"; exit 0; }
[ -x "$PY" ] || { say "error: no $PY; run make install first" >&2; exit 2; }
say "qemu $(qemu-aarch64-static --version | head -1 | awk '{print $3}') as $ARM_QEMU_CPU; binfmt qemu-aarch64 registered"

# ---- the reference exports (what `make export` writes), reused when fresh ---------------------------------
fresh_exports() {
  [ -f "$BUILD/summary.json" ] || return 1
  # Fresh: newer than every source that shapes an export.
  [ -z "$(find converters models edgeshare/layers edgeshare/accounting.py -name '*.py' -newer "$BUILD/summary.json" \
          -print -quit)" ]
}
if fresh_exports; then
  say "reusing the reference exports in $BUILD/ (newer than converters/, models/, edgeshare/layers/)"
else
  say "exporting the reference models into $BUILD/ (edgeshare export-reference --no-bench, ~8 min; log /tmp/edgeshare-arm-export.log)"
  rc=0
  nice -n 10 "$REPO/.venv/bin/edgeshare" export-reference --out "$BUILD" --no-bench >/tmp/edgeshare-arm-export.log 2>&1 \
    || rc=$?
  # Exit 1 is a failed check (duplicates, or numerics outside the export's tolerance): the files are written
  # and are compared across CPUs all the same; anything else is fatal.
  if [ "$rc" = 1 ] && [ -f "$BUILD/summary.json" ]; then
    say "warning: export-reference reported a failed check: $(grep -E '^[0-9]+ files;' /tmp/edgeshare-arm-export.log)"
  elif [ "$rc" != 0 ]; then
    say "error: export-reference failed (exit $rc):" >&2; tail -20 /tmp/edgeshare-arm-export.log >&2; exit 1
  fi
  say "exported ($(elapsed))"
fi

# ---- the arm64 root ----------------------------------------------------------------------------------------
mkdir -p "${EDGESHARE_ARM_WORK:-/var/tmp}"
WORK="$(mktemp -d "${EDGESHARE_ARM_WORK:-/var/tmp}/edgeshare-arm.XXXXXX")"
finish() {
  local rc=$?
  if [ "${EDGESHARE_ARM_KEEP:-0}" = 1 ]; then say "kept the work folder $WORK"; else arm_remove_work "$WORK"; fi
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM
arm_prepare "$WORK"
say "arm64 root ready in $ROOT with $ARM_EDGESHARE_WHEEL ($(elapsed))"

# ---- the x86 side of the comparison, on inputs drawn once ----------------------------------------------
mkdir -p "$WORK/out"
"$PY" "$HERE/run_models.py" make-inputs "$BUILD" "$ROOT/opt/edgeshare/models"
nice -n 10 "$PY" "$HERE/run_models.py" run "$ROOT/opt/edgeshare/models" "$WORK/out/x86_64.npz" 2>/dev/null

# ---- inside the root ---------------------------------------------------------------------------------------
set +e
unshare --mount --pid --fork --kill-child --propagation private -- bash "$HERE/inroot.sh" "$ROOT" "$WORK"
inner=$?
cmp_rc=1
if [ -f "$ROOT/tmp/aarch64.npz" ]; then
  "$PY" "$HERE/compare_outputs.py" "$WORK/out/x86_64.npz" "$ROOT/tmp/aarch64.npz"
  cmp_rc=$?
else
  say "error: the aarch64 side wrote no outputs" >&2
fi
set -e
# One closing line: the steps inside the root (tests/arm/inroot.sh) and the comparison.
read -r steps steps_failed <"$WORK/steps" 2>/dev/null || { steps=1; steps_failed=1; }
[ "$inner" = 0 ] || [ "$steps_failed" -gt 0 ] || steps_failed=1  # inroot.sh died before counting
total=$((steps + 1)); bad=$((steps_failed + (cmp_rc != 0)))
say "total time $(elapsed)"
say "$((total - bad)) passed, $bad failed"
[ "$inner" = 0 ] && [ "$cmp_rc" = 0 ]
