"""A tiny run of the stack-strategy benchmark script: it exports the stacks, verifies each file, times both
backends and prints one row per stack."""

import subprocess
import sys


def test_bench_stack_strategies_runs_and_prints_every_strategy(tmp_path):
    cmd = [sys.executable, "-m", "edgeshare.benchmarks.bench_stack_strategies", "--layers", "4", "--dim", "8",
           "--ffn", "16", "--heads", "2", "--seq", "2", "--loads", "1", "--rounds", "2", "--runs", "2",
           "--warmup", "1", "--strategies", "all,skip", "--out", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {line.split("|")[1].strip(): line for line in proc.stdout.splitlines() if line.startswith("| ")}
    assert set(rows) == {"stack", "unshared", "all", "skip"}
    cells = [c.strip() for c in rows["unshared"].split("|")[1:-1]]
    assert cells[1] == "0123" and cells[5] == "1.000"  # the baseline: 4 unique blocks, ratio 1
    assert [c.strip() for c in rows["skip"].split("|")[1:-1]][1] == "0101"
    assert "python -m edgeshare.benchmarks.bench_stack_strategies --layers 4" in proc.stdout
    assert [c.strip() for c in rows["all"].split("|")[1:-1]][1] == "0000"
    assert sorted(p.name for p in tmp_path.glob("*.tflite")) == ["all.tflite", "skip.tflite", "unshared.tflite"]


def test_bench_stack_strategies_rejects_bad_arguments():
    script = [sys.executable, "-m", "edgeshare.benchmarks.bench_stack_strategies"]
    proc = subprocess.run([*script, "--layers", "6"], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "`--layers` must be a multiple of 4 (skip shares at distance 2). Received: --layers=6" in proc.stderr
    proc = subprocess.run([*script, "--strategies", "all,zigzag"], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "`--strategies` must name some of sequence, cycle" in proc.stderr
    assert "Received: --strategies=all,zigzag" in proc.stderr
