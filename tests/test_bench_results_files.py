"""The one rule for a benchmark's --out: replaced by a run; rows so far never replace a complete run's results."""

import json
import sys

import pytest

from conftest import benchmark_module

COMPLETE = {"complete": True, "rows": [{"a": 1}, {"a": 2}, {"a": 3}, {"a": 4}]}


@pytest.fixture
def results():
    return benchmark_module("_results")


def test_rows_over_a_complete_run_go_beside_it_until_the_run_completes(results, tmp_path):
    """A Ctrl-C after the first row turned the earlier complete 4-row file into a 1-row incomplete one."""
    out = tmp_path / "acc.json"
    out.write_text(json.dumps(COMPLETE))
    rows_file = results.RowsFile(out)
    rows_file.write({"rows": [{"a": 5}]}, False)
    assert json.loads(out.read_text()) == COMPLETE
    assert json.loads((tmp_path / "acc.partial.json").read_text()) == {"rows": [{"a": 5}], "complete": False}
    rows_file.write({"rows": [{"a": 5}, {"a": 6}]}, True)
    assert json.loads(out.read_text()) == {"rows": [{"a": 5}, {"a": 6}], "complete": True}
    assert not (tmp_path / "acc.partial.json").exists()


@pytest.mark.parametrize("earlier", [None, {"complete": False, "rows": [{"a": 1}]}], ids=["new", "incomplete"])
def test_rows_go_to_out_itself_when_it_holds_no_complete_run(results, tmp_path, earlier):
    out = tmp_path / "acc.json"
    if earlier:
        out.write_text(json.dumps(earlier))
    results.RowsFile(out).write({"rows": [{"a": 5}]}, False)
    assert json.loads(out.read_text()) == {"rows": [{"a": 5}], "complete": False}
    assert not (tmp_path / "acc.partial.json").exists()


def test_a_stopped_run_says_where_its_rows_are(results, tmp_path, capsys):
    """Ctrl-C ended with exit 130 and no word."""
    out = tmp_path / "acc.json"
    out.write_text(json.dumps(COMPLETE))

    def main():
        results.RowsFile(out).write({"rows": [{"a": 5}]}, False)
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as ended:
        results.run_script(main)
    assert ended.value.code == 130
    assert capsys.readouterr().err == (f"stopped: 1 row kept in {tmp_path / 'acc.partial.json'} (complete: false); "
                                       f"{out} keeps the earlier complete results\n")


def test_a_later_run_in_the_same_process_does_not_report_the_earlier_runs_rows(results, tmp_path, capsys):
    """The rows a stopped run kept were named again by the next failed run_script call in the process."""
    out = tmp_path / "acc.json"

    def stopped():
        results.RowsFile(out).write({"rows": [{"a": 5}]}, False)
        raise KeyboardInterrupt

    def failed():
        raise results.ScriptError("the child failed")

    with pytest.raises(SystemExit):
        results.run_script(stopped)
    capsys.readouterr()
    with pytest.raises(SystemExit) as ended:
        results.run_script(failed)
    assert ended.value.code == "error: the child failed"
    with pytest.raises(SystemExit) as ended:
        results.run_script(lambda: (_ for _ in ()).throw(KeyboardInterrupt))
    assert ended.value.code == 130
    assert capsys.readouterr().err == "stopped\n"


def test_bench_samplers_stopped_after_a_row_keeps_the_earlier_complete_results(folder_dataset, tmp_path,
                                                                               monkeypatch, capsys):
    bench = benchmark_module("bench_samplers")
    out = tmp_path / "s.json"
    out.write_text(json.dumps(COMPLETE))

    def run_setting(name, data, samplers, per_class, seed, on_row=None):
        on_row({"setting": name})
        raise KeyboardInterrupt

    monkeypatch.setattr(bench, "run_setting", run_setting)
    monkeypatch.setattr(bench, "machine", lambda: {})
    monkeypatch.setattr(sys, "argv", ["bench_samplers.py", "--data", str(folder_dataset), "--out", str(out),
                                      "--settings", "subset", "--samplers", "none", "--per-class", "2"])
    with pytest.raises(SystemExit) as ended:
        bench.run_script(bench.main)
    assert ended.value.code == 130
    assert json.loads(out.read_text()) == COMPLETE
    assert json.loads((tmp_path / "s.partial.json").read_text())["rows"] == [{"setting": "subset"}]
    assert "stopped: 1 row kept in" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["bench_accuracy", "bench_samplers", "bench_grouped", "bench_features",
                                  "bench_fit", "bench_loading", "bench_predict", "bench_svm", "bench_deep",
                                  "bench_photos"])
def test_every_out_help_says_what_happens_to_the_file(name, monkeypatch, capsys):
    """Neither --help nor the README said that --out is replaced."""
    monkeypatch.setattr(sys, "argv", [f"{name}.py", "--help"])
    bench = benchmark_module(name)
    with pytest.raises(SystemExit):
        bench.main(["--help"]) if name in ("bench_loading", "bench_features", "bench_predict", "bench_svm",
                                           "bench_photos") else bench.main()
    out_help = capsys.readouterr().out.rsplit("  --out OUT", 1)[1].split("\n  -", 1)[0]
    assert "replace" in out_help


def test_bench_deep_refuses_to_merge_into_another_benchmarks_results(tmp_path):
    """bench_deep merged its section into bench_accuracy's results file."""
    bench = benchmark_module("bench_deep")
    other = tmp_path / "acc.json"
    other.write_text(json.dumps({"data": "fer2013", "complete": True, "rows": []}))
    with pytest.raises(SystemExit, match=r"holds no JSON results of this script \(it holds complete, data, rows"):
        bench.read_sections(other)
    mine = tmp_path / "deep.json"
    mine.write_text(json.dumps({"throughput": {"machine": {}}, "cnn": {"complete": False}}))
    assert set(bench.read_sections(mine)) == {"throughput", "cnn"}


def test_bench_deep_keeps_an_earlier_complete_section_until_the_new_one_completes(tmp_path):
    """A stopped cnn run replaced the earlier complete cnn section with its first steps."""
    bench = benchmark_module("bench_deep")
    out = tmp_path / "deep.json"
    earlier = {"complete": True, "machine": {}, "accuracy": 0.6}
    out.write_text(json.dumps({"cnn": earlier, "throughput": {"machine": {}}}))
    bench.write_section(out, "cnn", {"complete": False, "params": {}})
    assert json.loads(out.read_text()) == {"cnn": earlier, "throughput": {"machine": {}},
                                           "cnn.partial": {"complete": False, "params": {}}}
    bench.write_section(out, "cnn", {"complete": True, "machine": {}, "accuracy": 0.7})
    assert json.loads(out.read_text()) == {"cnn": {"complete": True, "machine": {}, "accuracy": 0.7},
                                           "throughput": {"machine": {}}}
    bench.write_section(out, "fresh", {"complete": False})  # no earlier section: written under its name
    assert json.loads(out.read_text())["fresh"] == {"complete": False}


def test_an_ignored_ctrl_c_stays_ignored_in_imports_and_in_main(results):
    """The import-time handler and run_script set a handler over an inherited SIG_IGN: a background
    ``bench_x.py &`` died on the Ctrl-C aimed at the foreground job."""
    import signal

    interrupt = benchmark_module("_interrupt")
    seen = []

    def main():
        seen.append(signal.getsignal(signal.SIGINT))

    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        interrupt.install()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        with pytest.raises(SystemExit):
            results.run_script(main)
        assert seen == [signal.SIG_IGN]
        # Python's own handler: the import-time one is installed, and run_script gives main KeyboardInterrupt back.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        interrupt.install()
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        with pytest.raises(SystemExit):
            results.run_script(main)
        assert seen[-1] is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before)


@pytest.mark.parametrize("name", ["bench_loading", "naive_fit", "bench_svm"])
def test_a_script_run_from_another_folder_finds_its_helpers(name, tmp_path):
    """The scripts import _interrupt first: run as ``python /path/benchmarks/NAME.py`` from anywhere."""
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    done = subprocess.run([sys.executable, str(script), "--help"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def test_a_script_run_by_runpy_from_another_folder_runs(tmp_path):
    """``import _interrupt`` failed where the script's folder is not sys.path[0] (runpy.run_path, a notebook)."""
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "naive_fit.py"
    code = (f"import runpy, sys; sys.argv = [{str(script)!r}, '--help']; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout
