"""benchmarks/bench_photos.py: its results never replace the model or a photo."""

import re

import pytest

from conftest import benchmark_module, usage_error


@pytest.mark.parametrize("out", ["model", "photo"])
def test_an_output_onto_an_input_is_refused_before_any_work(tmp_path, folder_dataset, monkeypatch, out):
    bench = benchmark_module("bench_photos")
    model = tmp_path / "m.joblib"
    model.write_bytes(b"a model")
    target = model if out == "model" else next((folder_dataset / "test" / "happy").iterdir())
    monkeypatch.setattr(bench, "load_model", lambda *a, **k: pytest.fail("model loaded"))
    with pytest.raises(SystemExit, match="--out .* (is an input of this command|is inside the dataset folder)"):
        bench.main([str(model), str(folder_dataset / "test"), "--out", str(target)])
    assert model.read_bytes() == b"a model"


def test_an_output_onto_a_photo_a_csv_lists_is_refused_before_any_work(tmp_path, folder_dataset, monkeypatch):
    """Only the CSV itself was protected: a photo it lists elsewhere was replaced by the results."""
    bench = benchmark_module("bench_photos")
    photo = next((folder_dataset / "test" / "happy").iterdir())
    listing = tmp_path / "photos.csv"
    listing.write_text(f"path,label\n{photo},happy\n")
    before = photo.read_bytes()
    monkeypatch.setattr(bench, "load_model", lambda *a, **k: pytest.fail("model loaded"))
    with pytest.raises(SystemExit, match="--out .* is an input of this command"):
        bench.main([str(tmp_path / "m.joblib"), str(listing), "--out", str(photo)])
    assert photo.read_bytes() == before


@pytest.mark.parametrize("args, message", [
    (["{tmp}/missing.joblib", "{photos}"], r"MODEL .*missing.joblib is not a file; give a model saved by"),
    (["{model}", "{tmp}/missing"], r"PHOTOS .*missing does not exist; give a folder of class folders or a CSV"),
    (["{model}", "{photos}", "--limit", "0"], r"--limit 0: give 1 or more photos per class"),
    (["{model}", "{photos}", "--limit", "-2"], r"--limit -2: give 1 or more photos per class"),
    (["{model}", "{photos}", "--portrait-aspect", "-1"], r"--portrait-aspect: The 'portrait_aspect' parameter of "
                                                         r"FaceCropper must be a float in the range \[1.0, inf\)"),
    (["{model}", "{photos}", "--yunet", "{tmp}/missing.onnx"], r"--yunet .*missing.onnx is not a file; give YuNet's"),
], ids=["missing-model", "missing-photos", "zero-limit", "negative-limit", "negative-portrait-aspect",
        "missing-yunet"])
def test_bad_arguments_are_usage_errors_before_any_work(tmp_path, folder_dataset, monkeypatch, capsys, args, message):
    """A missing model, a portrait aspect below 1 and a missing YuNet file were tracebacks."""
    bench = benchmark_module("bench_photos")
    model = tmp_path / "m.joblib"
    model.write_bytes(b"a model")
    monkeypatch.setattr(bench, "load_model", lambda *a, **k: pytest.fail("model loaded"))
    args = [a.format(tmp=tmp_path, model=model, photos=folder_dataset / "test") for a in args]
    usage_error(bench.main, [*args, "--out", str(tmp_path / "r.json")])
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "r.json").exists()


def test_a_model_that_does_not_load_is_a_one_line_exit(tmp_path, folder_dataset, capsys):
    bench = benchmark_module("bench_photos")
    model = tmp_path / "m.joblib"
    model.write_bytes(b"not a model")
    with pytest.raises(SystemExit, match=r"MODEL .*m.joblib: .* is not a readable fer-classic model"):
        bench.main([str(model), str(folder_dataset / "test"), "--out", str(tmp_path / "r.json")])
    assert not (tmp_path / "r.json").exists()


def test_a_labels_file_row_naming_a_folder_is_a_usage_error_before_any_work(
        tmp_path, folder_dataset, monkeypatch, capsys):
    """Its folder had no prediction row and counted as a photo without a face (its images as more photos)."""
    bench = benchmark_module("bench_photos")
    photo = next((folder_dataset / "test" / "happy").iterdir())
    listing = tmp_path / "photos.csv"
    listing.write_text(f"path,label\n{photo},happy\n{folder_dataset / 'test' / 'sad'},sad\n")
    monkeypatch.setattr(bench, "load_model", lambda *a, **k: pytest.fail("model loaded"))
    usage_error(bench.main, [str(tmp_path / "m.joblib"), str(listing), "--out", str(tmp_path / "r.json")])
    assert re.search(r"PHOTOS .*photos.csv: line 3 \(.*sad\) names a folder, not a photo; list one image file per row",
                     capsys.readouterr().err)


def test_a_folder_or_a_file_that_is_no_image_is_an_error_with_its_reason_not_a_photo_without_a_face(
        tmp_path, folder_dataset, fitted_model):
    bench = benchmark_module("bench_photos")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "folder.jpg").mkdir()
    photos = [(next((folder_dataset / "test" / "happy").iterdir()), "happy"), (tmp_path / "notes.txt", "sad"),
              (tmp_path / "folder.jpg", "sad")]
    result = bench.score_photos(fitted_model, photos)
    assert result["rates"]["no face"] == 0 and result["n_errors"] == 2
    folder = tmp_path / "folder.jpg"
    assert result["errors"][1] == {"path": str(folder), "label": "sad", "error": f"{folder}: a folder, not a photo"}
    assert "not a decodable image" in result["errors"][0]["error"]
    assert "error (counts as wrong): " in bench.format_table(result)


@pytest.mark.parametrize("rows, message", [
    ("{photo},happy\nfoo\n", r"photos.csv: line 3: no label \(expected path,label\)\.$"),
    ("{photo},happy\n{photo},\n", r"photos.csv: line 3: no label \(expected path,label\)\.$"),
    (",happy\n", r"photos.csv: line 2: no path \(expected path,label\)\.$"),
    ("{photo},bogus\n", r"photos.csv: line 2: Unknown emotion label 'bogus'"),
    ("{photo},happy\n{tmp}/gone.jpg,sad\n", r"photos.csv: line 3 \(.*gone.jpg\) names no file; fix the paths"),
], ids=["short-row", "empty-label", "empty-path", "unknown-label", "missing-file"])
def test_a_bad_labels_file_row_is_named_before_the_model_runs(tmp_path, folder_dataset, monkeypatch, capsys,
                                                              rows, message):
    """A short row was 'Unknown emotion label None' naming no line; a missing file was scored as a wrong answer."""
    bench = benchmark_module("bench_photos")
    photo = next((folder_dataset / "test" / "happy").iterdir())
    listing = tmp_path / "photos.csv"
    listing.write_text("path,label\n" + rows.format(photo=photo, tmp=tmp_path))
    monkeypatch.setattr(bench, "load_model", lambda *a, **k: pytest.fail("model loaded"))
    usage_error(bench.main, [str(tmp_path / "m.joblib"), str(listing), "--out", str(tmp_path / "r.json")])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.search(message, error), error


def test_a_portrait_aspect_that_is_no_number_names_the_option_not_a_function(tmp_path, folder_dataset, capsys):
    bench = benchmark_module("bench_photos")
    usage_error(bench.main, [str(tmp_path / "m.joblib"), str(folder_dataset / "test"), "--portrait-aspect", "abc"])
    assert "argument --portrait-aspect: 'abc': give a number (height / width) or none" in capsys.readouterr().err


def test_the_table_shows_a_dash_when_no_face_was_found():
    bench = benchmark_module("bench_photos")
    result = {"per_class": {}, "n_photos": 1, "rates": dict.fromkeys(bench.RULES, 0.0), "accuracy": 0.0,
              "accuracy_with_face": None, "f1_macro": 0.0, "seconds_per_photo": 0.1, "n_errors": 0,
              "several_boxes": 0, "unknown_labels": []}
    assert "(acc found -)" in bench.format_table(result)


def test_two_photo_sets_of_one_name_get_two_default_results_files(tmp_path, monkeypatch):
    """Both test/ folders wrote benchmarks/results/bench_photos_test.json, the second over the first."""
    bench = benchmark_module("bench_photos")

    class Checked(Exception):
        pass

    def check_results(outputs, **checks):
        raise Checked(outputs["--out"])

    monkeypatch.setattr(bench, "check_results", check_results)
    outs = []
    for name in ("set_a", "set_b"):
        photos = tmp_path / name / "test"
        (photos / "happy").mkdir(parents=True)
        (photos / "happy" / "a.png").write_bytes(b"x")
        with pytest.raises(Checked) as checked:
            bench.main([str(tmp_path / "m.joblib"), str(photos)])
        outs.append(checked.value.args[0].name)
    assert outs == ["bench_photos_set_a_test.json", "bench_photos_set_b_test.json"]
