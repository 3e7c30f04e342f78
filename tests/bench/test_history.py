import json

import pytest

from edgeshare.bench.history import append_history, load_results
from edgeshare.errors import InvalidInputError


def test_history_accumulates_across_runs(tmp_path):
    h = tmp_path / "sub" / "h.jsonl"
    assert append_history(str(h), [{"variant": "a", "p50_ms": 1.0}]) == 1
    assert append_history(str(h), [{"variant": "a", "p50_ms": 2.0, "std_ms": float("nan")}]) == 1
    rows = load_results([str(h)])
    assert [r["p50_ms"] for r in rows] == [1.0, 2.0]
    assert rows[1]["std_ms"] is None  # NaN is not JSON


def test_bench_json_and_history_load_together(tmp_path):
    j = tmp_path / "run.json"
    j.write_text(json.dumps({"results": [{"variant": "a", "p50_ms": 1}], "errors": [{"variant": "b", "error": "x"}]}))
    h = tmp_path / "h.jsonl"
    h.write_text('{"variant": "c", "p50_ms": 3}\n\n')
    assert [r["variant"] for r in load_results([str(j), str(h)])] == ["a", "b", "c"]


def test_garbled_history_line_names_the_file_and_line(tmp_path):
    h = tmp_path / "h.jsonl"
    h.write_text('{"variant": "c", "p50_ms": 3}\n{"variant": \n')
    with pytest.raises(InvalidInputError, match=r"h.jsonl: line 2 is not JSON .*Received: line='\{\"variant\": '"):
        load_results([str(h)])


def test_missing_and_foreign_files_are_input_errors(tmp_path):
    with pytest.raises(InvalidInputError, match=r"nope.jsonl: no such results file \(run `edgeshare bench` first\)"):
        load_results([str(tmp_path / "nope.jsonl")])
    other = tmp_path / "summary.json"
    other.write_text('{"out": "build", "rows": []}')
    with pytest.raises(InvalidInputError, match=r"summary.json: not a benchmark result file"):
        load_results([str(other)])


def test_history_path_follows_the_option_then_the_environment(monkeypatch):
    from edgeshare.bench.names import DEFAULT_HISTORY, history_path

    monkeypatch.delenv("EDGESHARE_HISTORY", raising=False)
    assert history_path() == DEFAULT_HISTORY
    monkeypatch.setenv("EDGESHARE_HISTORY", "/tmp/elsewhere.jsonl")
    assert history_path() == "/tmp/elsewhere.jsonl"
    assert history_path("mine.jsonl") == "mine.jsonl"
    monkeypatch.setenv("EDGESHARE_HISTORY", "")
    assert history_path() is None


def test_bench_writes_no_history_when_the_environment_says_so(tmp_path, monkeypatch, tiny_tflite):
    from edgeshare.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDGESHARE_HISTORY", "")
    assert main(["bench", tiny_tflite, "--runs", "2", "--warmup", "0"]) == 0
    assert not (tmp_path / "build").exists()
    with pytest.raises(SystemExit):
        main(["compare", "--bogus"])
    assert main(["compare"]) == 2
