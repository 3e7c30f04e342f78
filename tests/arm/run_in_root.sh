#!/usr/bin/env bash
# Run one command inside the emulated arm64 root of `make test-arm` (restored from its cache, or built),
# with edgeshare from this checkout installed, /proc, /sys and /dev mounted in a private namespace.
#   bash tests/arm/run_in_root.sh [--bind DIR]... COMMAND [ARG]...
# --bind makes a host folder visible at the same path inside the root (read-write). Exits 3 with the
# reason on stderr when this machine cannot run the root (see arm_preflight in tests/arm/lib.sh).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PY="${PY:-$REPO/.venv/bin/python}"
source "$HERE/lib.sh"

if [ "${1:-}" = --inside ]; then  # the second half, in the namespace: --inside ROOT WORK NBINDS DIR... CMD...
  ROOT="$2"; WORK="$3"; n="$4"; shift 4
  trap arm_unmount EXIT
  arm_mount "$ROOT" "$WORK"
  for ((i = 0; i < n; i++)); do arm_bind "$ROOT" "$1"; shift; done
  inroot "$@"
  exit $?
fi

binds=()
while [ "${1:-}" = --bind ]; do binds+=("$(cd "$2" && pwd)"); shift 2; done
[ $# -gt 0 ] || { echo "usage: run_in_root.sh [--bind DIR]... COMMAND [ARG]..." >&2; exit 2; }
why="$(arm_preflight)" || { echo "run_in_root: cannot run the arm64 root here: $why" >&2; exit 3; }
WORK="$(mktemp -d "${EDGESHARE_ARM_WORK:-/var/tmp}/edgeshare-arm.XXXXXX")"
trap 'arm_remove_work "$WORK"' EXIT
arm_prepare "$WORK" >&2
unshare --mount --pid --fork --kill-child --propagation private -- \
  bash "$HERE/run_in_root.sh" --inside "$ROOT" "$WORK" "${#binds[@]}" "${binds[@]}" "$@"
