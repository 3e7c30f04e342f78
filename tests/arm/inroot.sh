#!/usr/bin/env bash
# The steps of `make test-arm` inside the arm64 root. tests/arm/test_arm.sh starts this script with
# `unshare --mount --pid --fork --kill-child`: every mount below and every process started here (sshd
# included) lives in that private namespace and ends with it, whatever happens; the trap unmounts and
# stops them explicitly too.
# Usage: inroot.sh ROOT WORK   (REPO and PY come from the environment)
set -uo pipefail
ROOT="$1"; WORK="$2"
HERE="$REPO/tests/arm"
source "$HERE/lib.sh"
SSHD_PID=
cleanup() {
  [ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null && wait "$SSHD_PID" 2>/dev/null
  arm_unmount
}
trap cleanup EXIT
arm_mount "$ROOT" "$WORK" || { say "error: could not mount /proc, /sys, /dev in the root" >&2; exit 1; }

failed=()
STEPS=0
step() {  # step NAME command...: runs it, reports, records a failure, goes on
  local name="$1" t rc
  shift
  t=$(date +%s)
  "$@"; rc=$?
  STEPS=$((STEPS + 1))
  say "$name: $([ $rc = 0 ] && echo ok || echo "FAILED (exit $rc)") in $(( $(date +%s) - t )) s"
  [ $rc = 0 ] || failed+=("$name")
}

say "in the root: $(inroot uname -m), $(inroot python3 --version 2>&1)"
# One verify and one bench of real exports, as a user on the board would type them.
one_tflite="$(cd "$ROOT" && ls opt/edgeshare/models/*/*_int8.tflite | head -1)"
one_onnx="$(cd "$ROOT" && ls opt/edgeshare/models/*/*_dynamic.onnx | head -1)"
verify_both() {  # the summary lines of each report; the full reports go to WORK/verify.log
  local f rc=0
  for f in "$@"; do
    inroot edgeshare verify "$f" >"$WORK/verify.log" 2>&1 || rc=$?
    head -2 "$WORK/verify.log" | sed 's/^/test-arm:   /'
  done
  return $rc
}
step "edgeshare verify (aarch64)" verify_both "/$one_tflite" "/$one_onnx"
step "edgeshare bench (aarch64)" inroot edgeshare bench "/$one_tflite" "/$one_onnx" --runs 3 --warmup 1 \
  --no-history --json /tmp/bench_aarch64.json >"$WORK/bench.log" 2>&1
if [ -f "$ROOT/tmp/bench_aarch64.json" ]; then
  "$PY" "$HERE/show_machines.py" "$ROOT/tmp/bench_aarch64.json" "in the root:"
else
  tail -5 "$WORK/bench.log" | sed 's/^/test-arm:   /'
fi

step "light runtime tests (aarch64)" inroot_in /opt/edgeshare/src bash tests/arm/inroot_pytest.sh

step "reference exports run (aarch64)" inroot python3 /opt/edgeshare/src/tests/arm/run_models.py run \
  /opt/edgeshare/models /tmp/aarch64.npz

# An aarch64 sshd on 127.0.0.1, its keys made on the host; the x86 side benches through it.
ssh_dir="$ROOT/etc/edgeshare-ssh"
mkdir -p "$ssh_dir" "$ROOT/run/sshd" "$WORK/ssh"
ssh-keygen -q -t ed25519 -N '' -f "$ssh_dir/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/ssh/user_key"
cp "$WORK/ssh/user_key.pub" "$ssh_dir/authorized_keys"
chmod 0600 "$ssh_dir/authorized_keys" "$ssh_dir/host_key"
PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat >"$ssh_dir/sshd_config" <<CONF
Port $PORT
ListenAddress 127.0.0.1
HostKey /etc/edgeshare-ssh/host_key
AuthorizedKeysFile /etc/edgeshare-ssh/authorized_keys
PidFile /run/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
PrintMotd no
SetEnv EDGESHARE_CANARY=/tmp/canary-executed-over-ssh QEMU_CPU=$ARM_QEMU_CPU
CONF
read -r kt kb _ <"$ssh_dir/host_key.pub"
echo "[127.0.0.1]:$PORT $kt $kb" >"$WORK/ssh/known_hosts"
cat >"$WORK/ssh/ssh_config" <<CONF
Host 127.0.0.1
  IdentityFile $WORK/ssh/user_key
  IdentitiesOnly yes
  UserKnownHostsFile $WORK/ssh/known_hosts
  StrictHostKeyChecking yes
  LogLevel ERROR
  ConnectTimeout 60
CONF
inroot /usr/sbin/sshd -D -e -f /etc/edgeshare-ssh/sshd_config 2>"$WORK/sshd.log" &
SSHD_PID=$!
for _ in $(seq 1 600); do  # sshd under emulation takes a few seconds to listen
  "$PY" -c "import socket, sys; s = socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $PORT)))" && break
  kill -0 "$SSHD_PID" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$SSHD_PID" 2>/dev/null; then
  say "aarch64 sshd listening on 127.0.0.1:$PORT"
  step "bench over SSH against the aarch64 sshd (x86 side)" env -C "$REPO" EDGESHARE_ARM_SSH="root@127.0.0.1:$PORT" \
    EDGESHARE_ARM_SSH_CONFIG="$WORK/ssh/ssh_config" EDGESHARE_ARM_ROOT="$ROOT" \
    EDGESHARE_ARM_SSH_OUT="$WORK/ssh_bench.json" \
    "$PY" -m pytest -q -p no:cacheprovider tests/arm/test_ssh_aarch64.py
  [ -f "$WORK/ssh_bench.json" ] && "$PY" "$HERE/show_machines.py" "$WORK/ssh_bench.json" "over SSH, from x86_64:"
else
  say "error: sshd in the root did not start: $(tail -5 "$WORK/sshd.log")"
  failed+=("aarch64 sshd")
  STEPS=$((STEPS + 1))
fi

echo "$STEPS ${#failed[@]}" >"$WORK/steps"
if [ ${#failed[@]} -gt 0 ]; then
  say "failed inside the root: ${failed[*]}"
  exit 1
fi
