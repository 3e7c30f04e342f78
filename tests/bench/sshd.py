"""A real OpenSSH server on 127.0.0.1 for the SSH transport tests.

It runs as the current user on a free port, with a throwaway host key and an authorized key in a
temporary folder; the client side gets an ssh_config that trusts exactly that host key. Set-up that
cannot be done here (no sshd, no ssh) skips the SSH tests with the reason.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd")


@dataclass
class LocalSshd:
    spec: str  # USER@127.0.0.1:PORT
    config: str  # client ssh_config
    canary: Path  # $EDGESHARE_CANARY in every session sshd starts
    process: subprocess.Popen
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sshd(folder: Path) -> LocalSshd | str:
    """Start sshd, or return why it cannot run on this machine."""
    sshd = next((p for p in SSHD_CANDIDATES if os.access(p, os.X_OK)), None) or shutil.which("sshd")
    if not sshd:
        return "no sshd on this machine (Debian: apt-get install openssh-server; .ci/run installs it)"
    for tool in ("ssh", "ssh-keygen"):
        if not shutil.which(tool):
            return f"no {tool} on this machine (apt-get install openssh-client)"
    if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
        # sshd running as root needs its privilege-separation folder (Debian's service creates it).
        try:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        except OSError as exc:
            return f"sshd needs /run/sshd and it cannot be created: {exc}"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("host_key", "user_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / name)], check=True)
    shutil.copyfile(folder / "user_key.pub", folder / "authorized_keys")
    os.chmod(folder / "authorized_keys", 0o600)
    port = _free_port()
    canary = folder / "canary-executed-over-ssh"
    (folder / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host_key'}\n"
        f"AuthorizedKeysFile {folder / 'authorized_keys'}\nPidFile {folder / 'sshd.pid'}\n"
        "StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nPrintMotd no\n"
        f"SetEnv EDGESHARE_CANARY={canary}\n")
    host_pub = (folder / "host_key.pub").read_text().split()
    (folder / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    (folder / "ssh_config").write_text(
        f"Host 127.0.0.1\n  IdentityFile {folder / 'user_key'}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {folder / 'known_hosts'}\n  StrictHostKeyChecking yes\n  LogLevel ERROR\n"
        "  ConnectTimeout 10\n")
    log = folder / "sshd.log"
    proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(folder / "sshd_config")], stdout=subprocess.DEVNULL,
                            stderr=open(log, "wb"))  # noqa: SIM115 (the file lives as long as sshd)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"sshd exited at start: {log.read_text().strip()[-300:]}"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    else:
        proc.kill()
        return "sshd did not listen within 10 s"
    user = getpass.getuser()
    return LocalSshd(f"{user}@127.0.0.1:{port}", str(folder / "ssh_config"), canary, proc, log)
