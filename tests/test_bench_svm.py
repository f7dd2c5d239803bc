"""benchmarks/bench_svm.py: bad arguments are usage errors before the data is loaded."""

import re
import sys

import pytest

from conftest import benchmark_module, usage_error


@pytest.mark.parametrize("args, message", [
    (["--data", "{tmp}/no-such-data"], "--data .*no-such-data is not a folder"),
    (["--sizes", "2000", "0"], r"--sizes 0: give training sizes of 2 or more images \(an SVM needs two classes\)"),
    (["--sizes", "1", "20"], r"--sizes 1: give training sizes of 2 or more images \(an SVM needs two classes\)"),
    (["--C", "0"], r"--C 0: give a finite regularisation above 0"),
    (["--C", "-1"], r"--C -1: give a finite regularisation above 0"),
    (["--C", "nan"], r"--C nan: give a finite regularisation above 0"),
    (["--n-components", "0"], "--n-components 0: give 1 or more landmarks, or leave --n-components out"),
    (["--sizes", "20", "1000"], r"--sizes 1000: above the \d+ training images of --data .*faces; give sizes up to"),
    (["--sizes", "20", "40", "20"], r"--sizes 20 given twice; give each size once"),
    (["--data", "{tmp}"], r"--data .* has no train/<class>/ images"),
], ids=["missing-data", "zero-size", "one-image", "zero-C", "negative-C", "nan-C", "zero-landmarks",
        "size-above-training-split", "size-twice", "no-train-images"])
def test_bad_arguments_are_usage_errors_before_loading(folder_dataset, tmp_path, monkeypatch, capsys, args, message):
    bench = benchmark_module("bench_svm")
    monkeypatch.setattr(bench, "load_folder", lambda *a, **k: pytest.fail("data loaded"))
    given = [a.format(tmp=tmp_path) for a in args]
    usage_error(bench.main, ["--data", str(folder_dataset), "--out", str(tmp_path / "r.json"), *given])
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "r.json").exists()


def test_cuml_alone_without_cuml_is_a_usage_error_before_loading(folder_dataset, tmp_path, monkeypatch, capsys):
    """It loaded the data, extracted HOG, said 'cuML skipped' and exited 0 with no row."""
    bench = benchmark_module("bench_svm")
    monkeypatch.setattr(bench, "load_folder", lambda *a, **k: pytest.fail("data loaded"))
    monkeypatch.setattr(bench, "cuml_status", lambda: (False, "cuML is not installed"))
    usage_error(bench.main, ["--data", str(folder_dataset), "--backends", "cuml", "--out", str(tmp_path / "r.json")])
    assert "--backends cuml: cuML is not installed" in capsys.readouterr().err


def test_default_sizes_above_the_training_split_are_one_row_and_said(folder_dataset, tmp_path, monkeypatch, capsys):
    """They were capped silently, one duplicate row of the whole training split per size."""
    bench = benchmark_module("bench_svm")

    class Features(Exception):
        pass

    def hog(*args, **kwargs):
        raise Features

    monkeypatch.setattr(bench, "HOGFeatures", hog)
    with pytest.raises(Features):
        bench.main(["--data", str(folder_dataset), "--out", str(tmp_path / "r.json")])
    n = len(list((folder_dataset / "train").rglob("*.png")))
    assert f"sizes 2000, 4000, 8000, 16000, 28709 at or above the {n} training images: one row of all {n}" in \
        capsys.readouterr().out


def test_sizes_above_the_training_images_loaded_stop_before_the_features(folder_dataset, tmp_path, monkeypatch):
    """A file that does not decode counts in the usage check (files) but not among the images loaded."""
    bench = benchmark_module("bench_svm")
    (folder_dataset / "train" / "happy" / "broken.png").write_bytes(b"not an image")
    n = len(list((folder_dataset / "train").rglob("*.png")))
    monkeypatch.setattr(bench, "HOGFeatures", lambda *a, **k: pytest.fail("features computed"))
    with pytest.warns(UserWarning, match="1 of .* skipped"), pytest.raises(
            SystemExit, match=rf"--sizes {n}: above the {n - 1} training images loaded from --data .* \(1 of its "
                              rf"files skipped\); give sizes up to {n - 1}"):
        bench.main(["--data", str(folder_dataset), "--sizes", "20", str(n), "--out", str(tmp_path / "r.json")])
    assert not (tmp_path / "r.json").exists()


def test_a_size_drawing_one_class_stops_before_the_features(folder_dataset, tiny_faces, tmp_path, monkeypatch):
    """The first fit's 'The training data holds only 1 class' traceback, after the features."""
    import numpy as np

    bench = benchmark_module("bench_svm")
    one_class = tiny_faces.subset((tiny_faces.splits == "test") | (tiny_faces.labels == "happy"))
    monkeypatch.setattr(bench, "load_folder", lambda *a, **k: one_class)
    monkeypatch.setattr(bench, "HOGFeatures", lambda *a, **k: pytest.fail("features computed"))
    assert set(np.unique(one_class.select("train").y)) == {"happy"}
    with pytest.raises(SystemExit, match=r"^--sizes 5: the 5 training images it draws \(seeded\) are all of class "
                                         r"'happy'; an SVM needs two classes: give a larger size\.$"):
        bench.main(["--data", str(folder_dataset), "--sizes", "5", "--out", str(tmp_path / "r.json")])


def test_approx_rows_are_labelled_with_the_landmarks_used(folder_dataset, tmp_path, monkeypatch):
    """A size below --n-components fits on as many landmarks as rows; its row said the count asked for."""
    import json
    import sys

    bench = benchmark_module("bench_svm")
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # no plot: not what is tested
    bench.main(["--data", str(folder_dataset), "--sizes", "7", "20", "--backends", "approx", "--n-components", "10",
                "--out", str(tmp_path / "r.json")])
    rows = json.loads((tmp_path / "r.json").read_text())["rows"]
    assert [(r["n_train"], r["backend"], r["n_components"], r["n_components_requested"]) for r in rows] == [
        (7, "approx-7", 7, 10), (20, "approx-10", 10, 10)]


def test_a_plot_save_that_fails_leaves_the_earlier_plot(folder_dataset, tmp_path, monkeypatch):
    """The plot was written in place: a stopped or failed save left half a PNG."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    bench = benchmark_module("bench_svm")
    plot = tmp_path / "r.png"
    plot.write_bytes(b"the earlier plot")

    def savefig(self, fname, **kwargs):
        with open(fname, "wb") as handle:
            handle.write(b"half a PNG")
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", savefig)
    with pytest.raises(KeyboardInterrupt):
        bench.main(["--data", str(folder_dataset), "--out", str(tmp_path / "r.json"), "--sizes", "20",
                    "--backends", "approx", "--n-components", "10"])
    # The results and their plot are one set: neither the new JSON beside the earlier plot nor half a PNG.
    assert plot.read_bytes() == b"the earlier plot"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["faces", "r.png"]


def test_a_stop_while_plotting_leaves_the_earlier_results_and_plot_both(folder_dataset, tmp_path, monkeypatch):
    """--out's help said JSON and plot are replaced together; the JSON was written before the plot was made."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    bench = benchmark_module("bench_svm")
    (tmp_path / "r.json").write_text('{"earlier": true}')
    (tmp_path / "r.png").write_bytes(b"the earlier plot")

    def tight_layout(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "tight_layout", tight_layout)
    with pytest.raises(KeyboardInterrupt):
        bench.main(["--data", str(folder_dataset), "--out", str(tmp_path / "r.json"), "--sizes", "20",
                    "--backends", "approx", "--n-components", "10"])
    assert (tmp_path / "r.json").read_text() == '{"earlier": true}'
    assert (tmp_path / "r.png").read_bytes() == b"the earlier plot"


def test_without_matplotlib_an_earlier_plot_is_removed(folder_dataset, tmp_path, monkeypatch, capsys):
    """The earlier run's plot stayed beside the new results, silently taken for theirs."""
    bench = benchmark_module("bench_svm")
    (tmp_path / "r.png").write_bytes(b"the earlier plot")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    bench.main(["--data", str(folder_dataset), "--out", str(tmp_path / "r.json"), "--sizes", "20",
                "--backends", "approx", "--n-components", "10"])
    assert (tmp_path / "r.json").exists() and not (tmp_path / "r.png").exists()
    assert "earlier run's" in capsys.readouterr().out


def test_the_plot_leaves_no_pyplot_figure_open(folder_dataset, tmp_path):
    # Two figures left open by the runs above failed test_plots_do_not_touch_pyplot_state later in the suite.
    pytest.importorskip("matplotlib")
    bench = benchmark_module("bench_svm")
    bench.main(["--data", str(folder_dataset), "--out", str(tmp_path / "r.json"), "--sizes", "20",
                "--backends", "approx", "--n-components", "10"])
    assert (tmp_path / "r.png").stat().st_size > 0
    assert "matplotlib.pyplot" not in sys.modules or not sys.modules["matplotlib.pyplot"].get_fignums()
