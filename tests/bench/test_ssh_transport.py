"""The SSH target end to end against a real sshd on 127.0.0.1 (tests/bench/sshd.py)."""

import os
import sys

import pytest

from edgeshare.bench.flow import BenchOptions, BenchSession, bench_target
from edgeshare.bench.transports.base import TargetError
from edgeshare.bench.transports.ssh import SshTransport, parse_ssh_spec
from edgeshare.errors import InvalidInputError
from tests.bench.conftest import HOSTILE_STEM

OPTS = BenchOptions(warmup=2, runs=12, remote_python=sys.executable)


@pytest.fixture
def transport(sshd):
    t = SshTransport(sshd.spec, config=sshd.config)
    yield t
    t.close()


def test_connection_is_shared_and_closed(transport):
    t = transport
    assert t.run(["echo", "a b"]).text == "a b\n"
    control = t._control_dir
    assert control and len(os.listdir(control)) == 1  # the master's socket
    t.close()
    assert not os.path.exists(control)
    assert t.run(["true"]).returncode == 0  # usable again after close


def test_ssh_flow_end_to_end_with_hostile_names(sshd, transport, tmp_path, hostile_tflite, hostile_onnx):
    remote_base = tmp_path / "board tmp"
    remote_base.mkdir()
    t = transport
    t.base_dir = str(remote_base)
    rows = bench_target(t, [(hostile_tflite, "xnnpack"), (hostile_onnx, "cpu")], OPTS)
    assert [r.get("error") for r in rows] == [None, None]
    assert not sshd.canary.exists(), "a shell metacharacter in the file name ran a command on the board"
    assert [r["variant"] for r in rows] == [f"{HOSTILE_STEM}.tflite", f"{HOSTILE_STEM}.onnx"]
    for r in rows:
        assert r["device"] == f"ssh:{sshd.spec}" and r["target"] == "ssh"
        assert r["engine"] == "edgeshare.bench.runner" and len(r["latencies_ms"]) == 12 and r["p50_ms"] > 0
        assert r["command"].startswith("ssh -F ") and " -p " in r["command"]
        assert r["device_info"]["abi"] == os.uname().machine and r["device_info"]["ssh"] == sshd.spec
        # RAM over the board's baseline process; a KB-sized model can gain nothing measurable (memory.py)
        assert r["ram_mb"] is not None and (r["ram_to_weight"] is not None) == (r["ram_mb"] > 0)
    # The weight cache was built in the board's work folder by a first launch and mapped by the measured one.
    assert rows[0]["setup"] == "compiled+cache" and rows[0]["weight_cache"].startswith(str(remote_base))
    assert rows[0]["first_launch"]["separate_process"] and len(rows[0]["commands"]) == 3
    assert os.listdir(remote_base) == []  # the remote work folder is gone


def test_runner_on_the_board_sees_the_file_that_was_pushed(transport, tiny_tflite):
    t = transport
    with BenchSession(t, OPTS) as s:
        wd = s.workdir
        r = s.bench(tiny_tflite, "cpu")
        assert t.run(["test", "-d", wd]).returncode == 0
        assert t.run(["test", "-e", f"{wd}/tiny.tflite"]).returncode == 1  # removed after the run
    assert t.run(["test", "-d", wd]).returncode == 1
    assert r["delegate"] == "cpu" and r["delegate_detail"] == "CompiledModel, LiteRT built-in kernels"
    assert r["setup"] == "compiled builtin" and r["ram_mb"] is not None and r["weight_bytes"] == 8 * 16 * 4


def test_pull_copies_bytes_exactly(transport, tmp_path):
    t = transport
    wd = t.make_workdir()
    try:
        src = tmp_path / "blob"
        src.write_bytes(bytes(range(256)) * 64)
        t.push(str(src), f"{wd}/a b'c")
        t.pull(f"{wd}/a b'c", str(tmp_path / "back"))
        assert (tmp_path / "back").read_bytes() == src.read_bytes()
    finally:
        t.remove(wd)


def test_runner_that_fails_on_the_board_is_a_run_error(transport, tiny_tflite):
    with BenchSession(transport, BenchOptions(warmup=0, runs=1, remote_python="/bin/false")) as s:
        from edgeshare.bench.engines.benchmark_model import BenchmarkRunError

        with pytest.raises(BenchmarkRunError, match=r"the runner could not benchmark the model \(the baseline "
                                                    r"process\): exit status 1"):
            s.bench(tiny_tflite, "xnnpack")


def test_unreachable_board_is_a_clear_target_error(sshd, tiny_tflite):
    # A port where nothing listens: ssh itself fails (exit 255), which is the board's fault, not the model's.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    t = SshTransport(f"nobody@127.0.0.1:{port}", config=sshd.config)
    with pytest.raises(TargetError, match=rf"ssh could not run the command on 127.0.0.1: .*Connection refused.*"
                                          rf"Received: device=ssh:nobody@127.0.0.1:{port}"):
        t.make_workdir()
    rows = bench_target(t, [(tiny_tflite, "xnnpack")], OPTS)
    assert rows[0]["error_kind"] == "device" and "Connection refused" in rows[0]["error"]


@pytest.mark.parametrize("spec, parsed", [
    ("pi@raspberrypi", ("pi", "raspberrypi", None)),
    ("pi@10.0.0.7:2222", ("pi", "10.0.0.7", 2222)),
    ("jetson", (None, "jetson", None)),
    ("pi@[fe80::1]:22", ("pi", "fe80::1", 22)),
])
def test_parse_ssh_spec(spec, parsed):
    assert parse_ssh_spec(spec) == parsed


@pytest.mark.parametrize("spec", ["pi@", "pi@host:port", "-oProxyCommand=x", "pi@ho st", "a@b@c"])
def test_bad_ssh_spec_is_refused(spec):
    with pytest.raises(InvalidInputError, match=r"expects USER@HOST or USER@HOST:PORT. Received: device=ssh:"):
        parse_ssh_spec(spec)


def test_port_out_of_range_is_refused():
    with pytest.raises(InvalidInputError, match=r"port must be between 1 and 65535. Received: port=70000"):
        parse_ssh_spec("pi@board:70000")


def test_ssh_argv_never_lets_the_host_be_read_as_an_option():
    argv = SshTransport("pi@board:2222", options=["ConnectTimeout=5"], multiplex=False).shell_argv("true")
    assert argv == ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-p", "2222", "-l", "pi", "--",
                    "board", "true"]
