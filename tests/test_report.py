"""report.html, metrics.json and predictions.csv; `evaluate --report` and `compare` on the command line."""

import base64
import csv
import dataclasses
import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("matplotlib")

from conftest import tree_digest, write_csv_dataset  # noqa: E402
from fer_classic import evaluate_model, fit_model  # noqa: E402
from fer_classic.cli import main  # noqa: E402
from fer_classic.data import make_synthetic_faces  # noqa: E402
from fer_classic.evaluation import REPORT_PLOTS, write_report  # noqa: E402
from fer_classic.exceptions import ReportError  # noqa: E402
from fer_classic.persistence import FERModel  # noqa: E402


@pytest.fixture(scope="module")
def report(fitted_model, tiny_faces, tmp_path_factory):
    return write_report(fitted_model, tiny_faces, tmp_path_factory.mktemp("r") / "report", n_resamples=200)


@pytest.fixture(scope="module")
def page(report):
    return report.html.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["report.html", "metrics.json", "predictions.csv"])
def test_report_writes_its_files(report, name):
    assert (report.html.parent / name).stat().st_size > 0


@pytest.mark.parametrize("plot", list(REPORT_PLOTS))
def test_html_embeds_every_plot_as_png(page, plot):
    match = re.search(rf'<figure id="plot-{plot}"[^>]*><img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert match, f"plot {plot} missing"
    assert base64.b64decode(match.group(1)).startswith(b"\x89PNG")


def test_html_holds_exactly_the_report_plots(page):
    assert page.count("data:image/png;base64,") == len(REPORT_PLOTS)


def test_html_names_every_class_in_the_per_class_table(page, fitted_model):
    table = re.search(r'<table id="per-class">(.*?)</table>', page, re.S).group(1)
    for name in fitted_model.classes:
        assert f"<td>{name}</td>" in table


def test_html_is_self_contained(page):
    assert not re.search(r'(src|href)="(?!data:)', page)  # nothing fetched: no external file or URL
    assert "<script" not in page


def test_predictions_csv_has_one_row_per_image_and_a_score_per_class(report, fitted_model, tiny_faces):
    with open(report.predictions_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(tiny_faces.select("test"))
    assert list(rows[0])[:5] == ["source", "true", "predicted", "correct", "score_kind"]
    assert list(rows[0])[5:] == fitted_model.classes


def test_predictions_csv_ends_with_the_usage_of_images_that_have_one(fitted_model, tiny_faces, tmp_path):
    # The PublicTest / PrivateTest halves of a CSV dataset's metrics could not be recomputed from the file.
    from fer_classic.data import load_dataset

    data = load_dataset(write_csv_dataset(tmp_path / "f.csv", tiny_faces,
                                          usage_of={"train": "Training", "test": "PrivateTest"}))
    written = write_report(fitted_model, data, tmp_path / "r", n_resamples=10, max_pca_points=50)
    with open(written.predictions_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[-1] == "usage" and {row["usage"] for row in rows} == {"PrivateTest"}


def test_metrics_json_matches_the_returned_metrics(report):
    saved = json.loads(report.metrics_json.read_text())
    assert saved["metrics"] == json.loads(json.dumps(report.metrics))
    assert saved["score_kind"] == "decision" and saved["metrics"]["roc_auc_macro"] is not None


def test_report_uses_probabilities_when_the_classifier_has_them(tiny_faces, tmp_path):
    knn = fit_model(tiny_faces, features="pixels", clf="knn").model
    written = write_report(knn, tiny_faces, tmp_path / "r", n_resamples=50)
    assert written.score_kind == "probability" and written.metrics["roc_auc_micro"] is not None


def test_report_shows_the_accuracy_of_each_usage(fitted_model, tiny_faces, tmp_path):
    test = tiny_faces.select("test")
    halves = dataclasses.replace(test, usages=np.where(np.arange(len(test)) % 2, "PublicTest", "PrivateTest"))
    written = write_report(fitted_model, halves, tmp_path / "report", n_resamples=50)
    page = written.html.read_text(encoding="utf-8")
    for name, part in written.metrics["accuracy_by_group"].items():
        assert f"accuracy, {name}" in page and f"{part['accuracy']:.3f}" in page
    assert written.summary()["accuracy_by_group"] == written.metrics["accuracy_by_group"]


def test_hostile_names_keep_every_file_valid(fitted_model, tiny_faces, tmp_path):
    # A non-UTF-8 folder name (surrogate escapes) was written into report.html as its raw bytes,
    # which a page declaring UTF-8 may not hold.
    test = tiny_faces.select("test")
    name = "faces\udcff<script>alert('x')</script>&\"q\""
    sources = np.array([f"{name}/{i},\"c\"\n\udcfe😀.png" for i in range(len(test))], dtype=object)
    hostile = dataclasses.replace(test, name=name, sources=sources)
    written = write_report(fitted_model, hostile, tmp_path / "r", n_resamples=50)
    page = written.html.read_bytes().decode("utf-8")  # strict: valid UTF-8
    assert "<script" not in page and "faces\\xff&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;" in page
    json.loads(written.metrics_json.read_text(encoding="utf-8"), parse_constant=pytest.fail)
    with open(written.predictions_csv, encoding="utf-8", newline="") as handle:  # strict: valid UTF-8
        rows = list(csv.reader(handle))
    # Quoted; a byte that is no UTF-8 as \xfe, as the page and the tables show it (the rest kept exactly).
    assert [row[0] for row in rows[1:]] == [source.replace("\udcff", "\\xff").replace("\udcfe", "\\xfe")
                                            for source in sources]


def test_report_rejects_a_file_as_folder(fitted_model, tiny_faces, tmp_path):
    target = tmp_path / "taken"
    target.write_text("x")
    with pytest.raises(ReportError, match="exists and is a file"):
        write_report(fitted_model, tiny_faces, target)


def test_report_rejects_images_of_another_size(fitted_model, tmp_path):
    with pytest.raises(ReportError, match=r"size=\(48, 48\)"):
        write_report(fitted_model, make_synthetic_faces(2, 1, size=32), tmp_path / "r")


@pytest.mark.parametrize("points", [0, 1])
def test_report_refuses_too_few_pca_points_before_any_work(fitted_model, tiny_faces, tmp_path, points):
    with pytest.raises(ValueError, match=r"'max_pca_points' parameter .* must be an int in the range \[2, inf\)"):
        write_report(fitted_model, tiny_faces, tmp_path / "r", max_pca_points=points)
    assert not (tmp_path / "r").exists()


def test_report_keeps_scikit_learn_s_parameter_checks_on_inside(fitted_model, tiny_faces, tmp_path, monkeypatch):
    import sklearn

    from fer_classic.evaluation import _report

    skipped, predict = [], _report.predict_with_scores
    monkeypatch.setattr(_report, "predict_with_scores", lambda *args: (
        skipped.append(sklearn.get_config()["skip_parameter_validation"]), predict(*args))[1])
    write_report(fitted_model, tiny_faces, tmp_path / "r", n_resamples=20)
    assert skipped == [False]


def test_a_parameter_error_from_inside_keeps_its_owner_s_name(fitted_model, folder_dataset, tmp_path):
    # A face cropper recorded with a margin out of range: FaceCropper's parameter, not write_report's.
    model = FERModel(fitted_model.pipeline, {**fitted_model.metadata, "face_cropper": {"margin": -1.0}})
    with pytest.raises(ValueError, match="The 'margin' parameter of FaceCropper must be"):
        write_report(model, folder_dataset, tmp_path / "r")


@pytest.mark.parametrize("function", [
    lambda model, data, tmp: write_report(model, data, tmp / "r"),
    lambda model, data, tmp: evaluate_model(model, data, report=tmp / "r"),
], ids=["write_report", "evaluate_model"])
def test_a_bare_pipeline_is_refused_naming_fer_model(fitted_model, tiny_faces, tmp_path, function):
    with pytest.raises(TypeError, match=r"takes a FERModel .* got Pipeline. Wrap a fitted pipeline with "
                                        r"FERModel.from_fitted"):
        function(fitted_model.pipeline, tiny_faces, tmp_path)
    assert not (tmp_path / "r").exists()


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture(scope="module")
def model_files(tmp_path_factory, tiny_faces):
    folder = tmp_path_factory.mktemp("models")
    fit_model(tiny_faces, features="hog", clf="svm", out=folder / "svm.joblib")
    fit_model(tiny_faces, features="pixels", clf="knn", out=folder / "knn.joblib")
    return folder / "svm.joblib", folder / "knn.joblib"


@pytest.mark.parametrize("command, option", [(["evaluate"], "--report"), (["compare"], "--out"),
                                             (["fit"], "--dedupe")])
def test_help_shows_new_options(runner, command, option):
    result = runner.invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and option in result.output


def test_cli_evaluate_writes_report_and_leaves_data_untouched(runner, model_files, folder_dataset, tmp_path):
    before = tree_digest(folder_dataset)
    result = runner.invoke(main, ["evaluate", str(model_files[0]), "--data", str(folder_dataset),
                                  "--report", str(tmp_path / "rep")])
    assert result.exit_code == 0, result.output
    assert "report written to" in result.output and (tmp_path / "rep" / "report.html").is_file()
    assert tree_digest(folder_dataset) == before


def test_cli_evaluate_report_json_has_auc_and_path(runner, model_files, tmp_path, tiny_faces):
    data = write_csv_dataset(tmp_path / "f.csv", tiny_faces)
    result = runner.invoke(main, ["evaluate", str(model_files[0]), "--data", str(data), "--report",
                                  str(tmp_path / "rep"), "--json"])
    summary = json.loads(result.stdout)
    assert summary["report"].endswith("report.html") and summary["roc_auc_macro"] is not None


def test_cli_compare_prints_table_and_writes_csv(runner, model_files, tmp_path, tiny_faces):
    data = write_csv_dataset(tmp_path / "f.csv", tiny_faces)
    out = tmp_path / "cmp.csv"
    result = runner.invoke(main, ["compare", *map(str, model_files), "--data", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "svm.joblib" in result.output and "knn.joblib" in result.output and "McNemar" in result.output
    assert out.read_text().count("\n") == 3  # header and two models


def test_cli_compare_missing_model_is_a_clean_error(runner, tmp_path, folder_dataset):
    result = runner.invoke(main, ["compare", str(tmp_path / "none.joblib"), "--data", str(folder_dataset)])
    assert result.exit_code != 0 and "does not exist" in result.output and "Traceback" not in result.output


def _full_disk_at(monkeypatch, name):
    """``os.fsync`` of a file whose name starts with ``name`` fails as on a full disk (Linux: /proc names the fd)."""
    import errno
    import os

    fsync = os.fsync

    def failing(fd):
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(name):
            raise OSError(errno.ENOSPC, "No space left on device")
        fsync(fd)

    monkeypatch.setattr(os, "fsync", failing)


def _interrupted_page(monkeypatch):
    def interrupt(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr("fer_classic.evaluation._report._html", interrupt)


@pytest.mark.skipif(not __import__("os").path.isdir("/proc/self/fd"), reason="reads /proc/self/fd")
@pytest.mark.parametrize("failure, raised", [
    (lambda monkeypatch: _full_disk_at(monkeypatch, ".report.html."), OSError),
    (lambda monkeypatch: _full_disk_at(monkeypatch, ".predictions.csv."), OSError),
    (_interrupted_page, KeyboardInterrupt),
], ids=["full-disk-page", "full-disk-predictions", "ctrl-c-page"])
def test_a_report_that_fails_to_write_leaves_the_previous_report_whole(fitted_model, tiny_faces, tmp_path,
                                                                       monkeypatch, failure, raised):
    from fer_classic.evaluation import REPORT_FILES

    folder = tmp_path / "report"
    folder.mkdir()
    for name in REPORT_FILES:
        (folder / name).write_text(f"last run's {name}")
    # No plots drawn: only the writing is tested, and fast.
    monkeypatch.setattr("fer_classic.evaluation._report._plots", lambda *args: dict.fromkeys(REPORT_PLOTS, ""))
    failure(monkeypatch)
    with pytest.raises(raised):
        write_report(fitted_model, tiny_faces, folder, n_resamples=10)
    assert {p.name: p.read_text() for p in folder.iterdir()} == {n: f"last run's {n}" for n in REPORT_FILES}


def test_a_report_replaces_the_previous_one_whole(fitted_model, tiny_faces, tmp_path, monkeypatch):
    from fer_classic.evaluation import REPORT_FILES

    folder = tmp_path / "report"
    folder.mkdir()
    for name in REPORT_FILES:
        (folder / name).write_text(f"last run's {name}")
    monkeypatch.setattr("fer_classic.evaluation._report._plots", lambda *args: dict.fromkeys(REPORT_PLOTS, ""))
    report = write_report(fitted_model, tiny_faces, folder, n_resamples=10)
    assert sorted(p.name for p in folder.iterdir()) == sorted(REPORT_FILES)
    assert json.loads(report.metrics_json.read_text())["metrics"]["n"] == report.n
    assert "last run" not in report.html.read_text() + report.predictions_csv.read_text()


def test_a_split_of_classes_the_model_lacks_is_refused_in_the_report_s_terms(fitted_model, tiny_faces, tmp_path):
    test = tiny_faces.select("test")
    other = dataclasses.replace(test, labels=np.full(len(test), "contempt", dtype=object))
    with pytest.raises(ReportError, match=r"'test' images of .* all of classes the model does not predict "
                                          r"\(contempt; it predicts"):
        write_report(fitted_model, other, tmp_path / "new" / "r")
    assert not (tmp_path / "new").exists()


def test_a_failing_report_leaves_no_folder_it_created(fitted_model, tiny_faces, tmp_path, monkeypatch):
    from fer_classic.evaluation import _report

    def fail(*args, **kwargs):
        raise RuntimeError("plot failed")

    monkeypatch.setattr(_report, "_plots", fail)
    with pytest.raises(RuntimeError, match="plot failed"):
        write_report(fitted_model, tiny_faces, tmp_path / "new" / "r", n_resamples=20)
    assert list(tmp_path.iterdir()) == []


def test_report_keeps_only_the_features_its_pca_draws(fitted_model, tiny_faces, tmp_path, monkeypatch):
    # F4: the report held the whole n x F feature matrix through its plots to draw max_pca_points of them. It
    # keeps those rows only, and draws the same points as plot_feature_pca given every row.
    from fer_classic.evaluation import _report, plot_feature_pca

    drawn = []

    def recording(features, labels, *args, **kwargs):
        figure = plot_feature_pca(features, labels, *args, **kwargs)
        drawn.append((np.asarray(features).shape, [c.get_offsets().data.copy() for c in figure.axes[0].collections]))
        return figure

    monkeypatch.setattr(_report, "plot_feature_pca", recording)
    write_report(fitted_model, tiny_faces, tmp_path / "r", n_resamples=10, max_pca_points=10, random_state=4)
    test = tiny_faces.select("test")
    every_row = plot_feature_pca(fitted_model.predict_scores(test.images)[3], test.y, fitted_model.classes,
                                 max_points=10, random_state=4)
    (shape, points), = drawn
    assert shape[0] == 10 < len(test)
    for got, want in zip(points, every_row.axes[0].collections, strict=True):
        np.testing.assert_array_equal(got, want.get_offsets())
