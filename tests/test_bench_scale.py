"""benchmarks/bench_scale.py: bad sizes and counts are usage errors before any image is generated."""

import re
import sys

import pytest

from conftest import benchmark_module, usage_error, write_folder_dataset


@pytest.fixture
def bench(tmp_path, tiny_faces, monkeypatch):
    """bench_scale on the tiny faces as FER2013 (.jpg class folders), generating nothing."""
    bench = benchmark_module("bench_scale")
    monkeypatch.setattr(bench, "FER", write_folder_dataset(tmp_path / "fer", tiny_faces, ext=".jpg"))
    monkeypatch.setattr(bench, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(bench, "generate", lambda *a, **k: pytest.fail("images generated"))
    monkeypatch.setattr(bench, "check_fer2013", lambda *a, **k: pytest.fail("fitted"))
    return bench


@pytest.mark.parametrize("args, message", [
    (["--sizes", "0"], r"--sizes 0: give sizes of \d+ images or more \(FER2013's training split, every class"),
    (["--sizes", "-5", "200"], r"--sizes -5: give sizes of \d+ images or more"),
    (["--sizes", "20", "200"], r"--sizes 20: give sizes of \d+ images or more"),
    (["--sizes", "200", "200"], r"--sizes 200 given twice; give each size once"),
    (["--workers", "0"], r"--workers 0: give 1 or more"),
    (["--n-components", "-1"], r"--n-components -1: give 1 or more"),
    (["--check-fer2013", "--chunk-size", "0"], r"--chunk-size 0: give 1 or more"),
], ids=["zero-size", "negative-size", "size-missing-classes", "size-twice", "zero-workers", "negative-landmarks",
        "zero-chunk-size"])
def test_bad_options_are_usage_errors_before_any_work(bench, monkeypatch, capsys, args, message):
    """Never validated: a size below the training split took the first files in class order (whole classes missing),
    0 or less fitted an empty training set in a child process (a CalledProcessError traceback)."""
    monkeypatch.setattr("sys.argv", ["bench_scale.py", *args])
    usage_error(bench.main)
    assert re.search(message, capsys.readouterr().err)


def test_a_missing_fer2013_is_a_usage_error(bench, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "FER", tmp_path / "missing")
    monkeypatch.setattr("sys.argv", ["bench_scale.py", "--sizes", "30000"])
    usage_error(bench.main)
    assert "FER2013's class folders are not at" in capsys.readouterr().err


def test_sizes_of_the_whole_training_split_or_more_are_generated(bench, tiny_faces, monkeypatch):
    class Generated(Exception):
        pass

    def generate(root, size, *args):
        raise Generated(size)

    monkeypatch.setattr(bench, "generate", generate)
    n_train = int((tiny_faces.splits == "train").sum())
    monkeypatch.setattr("sys.argv", ["bench_scale.py", "--sizes", str(n_train), "--mode", "local"])
    with pytest.raises(Generated, match=str(n_train)):
        bench.main()


@pytest.mark.parametrize("args, module, message", [
    (["--check-fer2013", "--engine", "ray"], "ray", r"--engine ray needs ray, .* pip install 'fer-classic\[ray\]'"),
    (["--check-fer2013"], "dask.distributed", r"--engine dask needs dask, .* pip install 'fer-classic\[dask\]'"),
    (["--sizes", "{n}", "--mode", "local", "dask"], "dask.distributed",
     r"--mode dask needs dask, .* pip install 'fer-classic\[dask\]'"),
], ids=["check-ray", "check-dask", "mode-dask"])
def test_a_missing_cluster_package_names_the_extra_before_any_work(
        bench, tiny_faces, monkeypatch, args, module, message):
    """A missing Ray was found after --check-fer2013's whole local fit (a traceback), Dask after the images were
    generated (in the child process)."""
    from fer_classic.exceptions import MissingDependencyError

    monkeypatch.setitem(sys.modules, module, None)  # importing it raises ImportError
    n_train = int((tiny_faces.splits == "train").sum())
    monkeypatch.setattr("sys.argv", ["bench_scale.py", *(a.format(n=n_train) for a in args)])
    with pytest.raises(MissingDependencyError, match=message):
        bench.main()


@pytest.mark.parametrize("value", ["abc", "-1GB", "-0.5", "1.5", "nan", ""])
def test_a_bad_worker_memory_is_a_usage_error_before_any_work(bench, monkeypatch, capsys, value):
    """--worker-memory abc gave two tracebacks after the images were generated; 1.5 is 1 byte to Dask."""
    pytest.importorskip("dask")
    monkeypatch.setattr("sys.argv", ["bench_scale.py", f"--worker-memory={value}"])
    usage_error(bench.main)
    assert f"--worker-memory {value}: give a size such as 2GB" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "0GB", "0.5", "1", "2e9", "2GB", "512 MiB", "auto"])
def test_a_worker_memory_dask_reads_is_accepted(bench, value):
    """0 (Dask: no limit) was refused as a bad size."""
    pytest.importorskip("dask")
    parser = bench.argparse.ArgumentParser()
    bench._check_worker_memory(parser, value)  # no usage error


def test_a_byte_count_with_a_fraction_says_how_dask_reads_it(bench, monkeypatch, capsys):
    pytest.importorskip("dask")
    monkeypatch.setattr("sys.argv", ["bench_scale.py", "--worker-memory=1.5"])
    usage_error(bench.main)
    assert "Dask reads 1.5 as 1 byte: only numbers up to 1 are fractions" in capsys.readouterr().err


@pytest.mark.parametrize("folder", ["n{n}", "store_{n}"])
def test_a_work_folder_it_did_not_make_is_refused_not_removed(bench, tiny_faces, tmp_path, monkeypatch, capsys,
                                                              folder):
    """generate() and run_one() removed WORK/n<size> and WORK/store_<size> whatever made them."""
    n_train = int((tiny_faces.splits == "train").sum())
    mine = tmp_path / "work" / folder.format(n=n_train)
    mine.mkdir(parents=True)
    (mine / "thesis.txt").write_text("keep me")
    monkeypatch.setattr("sys.argv", ["bench_scale.py", "--sizes", str(n_train), "--mode", "local",
                                     "--work", str(tmp_path / "work")])
    usage_error(bench.main)
    assert "were not made by this script" in capsys.readouterr().err
    assert (mine / "thesis.txt").read_text() == "keep me"


def test_generate_removes_only_a_folder_it_made(tmp_path):
    bench = benchmark_module("bench_scale")
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "thesis.txt").write_text("keep me")
    with pytest.raises(SystemExit, match="was not made by this script"):
        bench.generate(theirs, 1, source=tmp_path / "none")
    assert (theirs / "thesis.txt").exists()
    ours = bench._fresh(tmp_path / "ours")
    (ours / "half.jpg").write_bytes(b"x")  # a run cut short
    bench.generate(ours, 0, source=tmp_path / "none")
    assert not (ours / "half.jpg").exists() and (ours / ".complete").exists()


def test_a_failed_child_is_one_line_not_a_called_process_error(bench, tmp_path, monkeypatch):
    """subprocess.run(check=True) put a CalledProcessError traceback below the child's own error."""
    import subprocess

    monkeypatch.setattr(bench, "generate", lambda *a, **k: None)
    monkeypatch.setattr(bench, "check_engine", lambda *a: None)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 3))
    n = len(list((tmp_path / "fer" / "train").rglob("*.jpg")))
    monkeypatch.setattr("sys.argv", ["bench_scale.py", "--sizes", str(n), "--mode", "local", "--work",
                                     str(tmp_path / "work"), "--results", str(tmp_path / "mine")])
    with pytest.raises(SystemExit) as ended:
        bench.run_script(bench.main)
    assert str(ended.value) == (f"error: size {n}, mode local: its process failed (exit status 3), its error above; "
                                f"the runs before it are in {tmp_path / 'mine'}.")


def test_results_go_to_the_results_folder_given_and_a_file_there_is_refused(bench, tmp_path, monkeypatch, capsys):
    """Results always went into the repository's benchmarks/results, unchecked."""
    taken = tmp_path / "taken"
    taken.write_text("a file")
    monkeypatch.setattr("sys.argv", ["bench_scale.py", "--check-fer2013", "--results", str(taken)])
    with pytest.raises(SystemExit, match="--results .*taken"):
        bench.main()
    assert taken.read_text() == "a file"


def test_the_table_of_a_missing_results_folder_is_a_usage_error(bench, tmp_path, monkeypatch, capsys):
    """It printed the header alone and exited 0."""
    monkeypatch.setattr("sys.argv", ["bench_scale.py", "--table", "--results", str(tmp_path / "no-such")])
    usage_error(bench.main)
    assert re.search(r"--results .*no-such is not a folder", capsys.readouterr().err)


def test_the_table_leaves_out_files_that_are_not_results_without_a_traceback(bench, tmp_path):
    """A results file missing a key was a KeyError traceback."""
    (tmp_path / "bench_scale_1_local.json").write_text('{"size": 1}')
    (tmp_path / "bench_scale_2_local.json").write_text("not json")
    text = bench.table(tmp_path)
    assert text.endswith("not bench_scale results, left out: bench_scale_1_local.json, bench_scale_2_local.json")
