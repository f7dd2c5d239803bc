"""Every option that writes is checked before any work: it never replaces an input, and says why."""

import hashlib
import shutil

import pytest
from click.testing import CliRunner

from conftest import tree_digest, write_csv_dataset, write_folder_dataset
from fer_classic.cli import main


def _md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def files(tmp_path_factory, tiny_faces):
    """A CSV dataset, a folder dataset, two model files and a photo; none may change (shared: read only)."""
    from fer_classic import fit_model

    tmp_path = tmp_path_factory.mktemp("inputs")
    csv = write_csv_dataset(tmp_path / "d.csv", tiny_faces)
    folder = write_folder_dataset(tmp_path / "ds", tiny_faces)
    a, b = tmp_path / "a.joblib", tmp_path / "b.joblib"
    fit_model(tiny_faces, features="pixels", clf="knn", out=a)
    fit_model(tiny_faces, features="pixels", clf="logreg", out=b)
    photo = next((folder / "test" / "happy").iterdir())
    # A labels file in a folder of its own, listing the folder dataset's images: they are its inputs too.
    (tmp_path / "lists").mkdir()
    labels = tmp_path / "lists" / "labels.csv"
    labels.write_text("image,label,split\n" + "".join(
        f"../ds/{image.relative_to(folder).as_posix()},{image.parent.name},{image.parent.parent.name}\n"
        for image in sorted(folder.rglob("*.png"))))
    return {"csv": csv, "folder": folder, "a": a, "b": b, "photo": photo, "labels": labels, "tmp": tmp_path}


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if a command loads data or fits anything."""
    def never(*args, **kwargs):
        raise AssertionError("work started before the outputs were checked")

    for target in ("fer_classic.workflow.load_data", "fer_classic.model_selection.load_data",
                   "fer_classic.workflow.fit_score_save", "fer_classic.model_selection.fit_score_save",
                   "fer_classic.data.describe_dataset", "fer_classic.workflow.describe_dataset",
                   "fer_classic.workflow.compare_models", "fer_classic.persistence.load_model"):
        monkeypatch.setattr(target, never)


COMMANDS = {
    "fit --out is the CSV": (["fit", "--data", "{csv}", "--out", "{csv}"], "--out"),
    "describe --duplicates-csv is the CSV": (["describe", "--data", "{csv}", "--duplicates-csv", "{csv}"],
                                             "--duplicates-csv"),
    "search --results is the CSV": (["search", "--data", "{csv}", "--clf", "knn", "--results", "{csv}",
                                     "--out", "{tmp}/s.joblib"], "--results"),
    "compare --out is a model": (["compare", "{a}", "{b}", "--data", "{csv}", "--out", "{a}"], "--out"),
    "predict --timeline is the photo": (["predict", "{a}", "{photo}", "--timeline", "{photo}"], "--timeline"),
    "predict --annotate is the photo": (["predict", "{a}", "{photo}", "--annotate", "{photo}"], "--annotate"),
    "predict --timeline is the model": (["predict", "{a}", "{photo}", "--timeline", "{a}"], "--timeline"),
    "fit --out inside the dataset": (["fit", "--data", "{folder}", "--out", "{folder}/train/happy/model.jpg"],
                                     "inside the dataset folder"),
    "fit --out through ..": (["fit", "--data", "{csv}", "--out", "{folder}/../d.csv"], "--out"),
    "evaluate --report inside the dataset": (["evaluate", "{a}", "--data", "{folder}", "--report",
                                              "{folder}/report"], "--report"),
    "fit --out is a folder": (["fit", "--data", "{csv}", "--out", "{tmp}"], "--out"),
    "search --out and --results alike": (["search", "--data", "{csv}", "--clf", "knn", "--out", "{tmp}/x.out",
                                          "--results", "{tmp}/x.out"], "both name"),
    "fit --out is an image a labels file lists": (["fit", "--data", "{labels}", "--out", "{photo}"],
                                                  "is an input of this command (--data {labels}, which lists "),
    "describe --duplicates-csv is a listed image": (["describe", "--data", "{labels}", "--duplicates-csv",
                                                     "{photo}"], "(--data {labels}, which lists "),
    "compare --out is a listed image": (["compare", "{a}", "{b}", "--data", "{labels}", "--out", "{photo}"],
                                        "is an input of this command"),
}


@pytest.mark.parametrize("case", list(COMMANDS))
def test_output_that_would_touch_an_input_fails_first_and_changes_nothing(files, no_work, case):
    args, message = COMMANDS[case]
    args, message = [a.format(**files) for a in args], message.format(**files)
    before = {**tree_digest(files["folder"]), **{k: _md5(files[k]) for k in ("csv", "a", "b")}}
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0, result.output
    assert message in result.output and "Traceback" not in result.output, result.output
    assert {**tree_digest(files["folder"]), **{k: _md5(files[k]) for k in ("csv", "a", "b")}} == before


def test_a_new_file_beside_a_labels_files_images_is_allowed(files, no_work, tmp_path):
    # Files a labels file does not list are no part of its dataset (the checks pass; no_work stops the fit).
    result = CliRunner().invoke(main, ["fit", "--data", str(files["labels"]), "--out",
                                       str(files["photo"].parent / "m.joblib")])
    assert "work started before the outputs were checked" in result.output, result.output


def test_write_protected_output_is_refused(files, no_work, tmp_path):
    locked = tmp_path / "locked.joblib"
    locked.write_bytes(b"the user's")
    locked.chmod(0o444)
    result = CliRunner().invoke(main, ["fit", "--data", str(files["csv"]), "--out", str(locked)])
    assert result.exit_code != 0 and "write-protected" in result.output, result.output
    assert locked.read_bytes() == b"the user's"


@pytest.mark.parametrize("suffix", [".jpg", ".mp4"])
def test_timeline_with_an_image_or_video_suffix_is_refused(files, no_work, tmp_path, suffix):
    result = CliRunner().invoke(main, ["predict", str(files["a"]), str(files["photo"]), "--timeline",
                                       str(tmp_path / f"t{suffix}")])
    assert result.exit_code != 0 and "this output is a CSV table" in result.output, result.output
    assert "give a .csv path" in result.output and not (tmp_path / f"t{suffix}").exists()


@pytest.mark.parametrize("args, option", [
    (["describe", "--data", "{csv}", "--duplicates-csv", "{out}"], "--duplicates-csv"),
    (["search", "--data", "{csv}", "--clf", "knn", "--results", "{out}", "--out", "{tmp}/s.joblib"], "--results"),
    (["compare", "{a}", "{b}", "--data", "{csv}", "--out", "{out}"], "--out"),
], ids=["describe", "search", "compare"])
@pytest.mark.parametrize("name", ["portrait.jpg", "clip.mp4", "mine.joblib"])
def test_a_table_is_not_written_over_a_photo_video_or_model(files, no_work, tmp_path, args, option, name):
    # A mistyped option replaced the user's file (no input of the command) with CSV text.
    out = tmp_path / name
    out.write_bytes(b"the user's")
    filled = [a.format(out=out, tmp=tmp_path, **{k: v for k, v in files.items() if k != "tmp"}) for a in args]
    result = CliRunner().invoke(main, filled)
    assert result.exit_code != 0 and f"{option} {out}: this output is a CSV table" in result.output, result.output
    assert out.read_bytes() == b"the user's"


@pytest.mark.parametrize("command", [["fit"], ["search", "--clf", "knn"]], ids=["fit", "search"])
@pytest.mark.parametrize("name", ["portrait.jpg", "clip.mp4", "table.csv"])
def test_a_model_is_not_written_over_a_photo_video_or_table(files, no_work, tmp_path, command, name):
    out = tmp_path / name  # fit --out portrait.jpg replaced the photo with a model after the whole fit
    out.write_bytes(b"the user's")
    result = CliRunner().invoke(main, [*command, "--data", str(files["csv"]), "--out", str(out)])
    assert result.exit_code != 0 and f"--out {out}: this output is a model file" in result.output, result.output
    assert out.read_bytes() == b"the user's"


def test_predict_timeline_is_never_the_yunet_model(files, no_work, tmp_path):
    # The detector's model file is an input too: --timeline replaced it with a CSV header, exit 0.
    detector = tmp_path / "face_detector.bin"  # a suffix no rule refuses: the input check must catch it
    detector.write_bytes(b"the user's ONNX")
    result = CliRunner().invoke(main, ["predict", str(files["a"]), str(files["photo"]), "--yunet", str(detector),
                                       "--timeline", str(detector)])
    assert result.exit_code != 0, result.output
    assert f"--timeline {detector} is an input of this command (--yunet {detector})" in result.output, result.output
    assert detector.read_bytes() == b"the user's ONNX"


@pytest.mark.parametrize("args, message", [
    (["predict", "{a}", "{photo}", "--timeline", "{out}"], "this output is a CSV table"),
    (["fit", "--data", "{csv}", "--out", "{out}"], "this output is a model file"),
], ids=["predict --timeline", "fit --out"])
def test_an_output_is_not_written_over_an_onnx_model(files, no_work, tmp_path, args, message):
    out = tmp_path / "face_detection_yunet_2023mar.onnx"
    out.write_bytes(b"the user's ONNX")
    filled = [a.format(out=out, **files) for a in args]
    result = CliRunner().invoke(main, filled)
    assert result.exit_code != 0 and message in result.output, result.output
    assert out.read_bytes() == b"the user's ONNX"


@pytest.mark.parametrize("args", [
    ["fit", "--data", "{csv}", "--out", "--json"],
    ["describe", "--data", "{csv}", "--duplicates-csv", "--json"],
], ids=["fit", "describe"])
def test_an_option_taken_as_an_output_path_is_refused(files, no_work, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, [a.format(**files) for a in args])
    assert result.exit_code != 0 and "--json looks like an option, not a file name" in result.output, result.output
    assert not (tmp_path / "--json").exists()


@pytest.mark.parametrize("exists", [False, True])
def test_fit_out_and_feature_store_of_the_same_path_are_refused_first(files, no_work, tmp_path, exists):
    # --out DIR --feature-store DIR: the model was to be saved over the store's folder after the whole fit.
    store = tmp_path / "store"
    if exists:
        store.mkdir()
    result = CliRunner().invoke(main, ["fit", "--data", str(files["folder"]), "--clf", "ridge", "--feature-store",
                                       str(store), "--out", str(store)])
    assert result.exit_code != 0, result.output
    assert (f"--out and --feature-store both name {store}" in result.output if not exists
            else f"--out {store} is a folder" in result.output), result.output
    assert store.exists() is exists


def test_a_file_output_ending_in_a_separator_is_refused(files, no_work, tmp_path):
    # Path drops the "/": a model file was written by the folder's name.
    result = CliRunner().invoke(main, ["fit", "--data", str(files["csv"]), "--out", f"{tmp_path / 'models'}/"])
    assert result.exit_code != 0 and "ends in /, a folder's name, but this output is a file" in result.output
    assert not (tmp_path / "models").exists()


def test_symlink_to_an_input_is_the_input(files, no_work, tmp_path):
    link = tmp_path / "link.csv"
    link.symlink_to(files["csv"])
    result = CliRunner().invoke(main, ["fit", "--data", str(files["csv"]), "--out", str(link)])
    assert result.exit_code != 0 and "--out" in result.output


def test_dotdot_after_a_folder_link_is_resolved_through_the_link(files, no_work, tmp_path):
    # dirlink/.. is the link target's parent (data/train), not tmp_path: folded lexically it escaped the check.
    link = tmp_path / "dirlink"
    link.symlink_to(files["folder"] / "train" / "happy", target_is_directory=True)
    before = tree_digest(files["folder"])
    result = CliRunner().invoke(main, ["fit", "--data", str(files["folder"]), "--out", f"{link}/../m.joblib"])
    assert result.exit_code != 0 and "inside the dataset folder" in result.output, result.output
    assert tree_digest(files["folder"]) == before


def test_unwritable_folder_fails_before_the_fit(files, no_work, monkeypatch, tmp_path):
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # Root ignores permission bits, so the read-only folder is simulated where the check asks.
    monkeypatch.setattr(os, "access",
                        lambda p, mode, **k: False if str(p) == str(locked) else real_access(p, mode, **k))
    result = CliRunner().invoke(main, ["fit", "--data", str(files["csv"]), "--out", str(locked / "m.joblib")])
    assert result.exit_code != 0 and "not writable" in result.output, result.output


@pytest.mark.parametrize("command, message", [
    (["predict", "{a}", "{photo}", "--annotate", "{photo_dir}"], "--annotate"),
    (["evaluate", "{a}", "--data", "{tmp}/predictions.csv", "--report", "{tmp}"], "--report (predictions.csv)"),
    (["report-search", "{a}", "--data", "{tmp}/curves.json", "--out", "{tmp}"], "--out (curves.json)"),
])
def test_a_file_written_inside_an_output_folder_is_never_an_input(files, no_work, tmp_path, command, message):
    shutil.copytree(files["photo"].parent, tmp_path / "photos")
    photo = next((tmp_path / "photos").iterdir())
    for name in ("predictions.csv", "curves.json"):
        shutil.copy(files["csv"], tmp_path / name)
    before = {p: _md5(p) for p in tmp_path.rglob("*") if p.is_file()}
    args = [a.format(a=files["a"], photo=photo, photo_dir=photo.parent, tmp=tmp_path) for a in command]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0 and message in result.output, result.output
    assert {p: _md5(p) for p in tmp_path.rglob("*") if p.is_file()} == before


def test_predict_paths_refuses_annotating_over_its_inputs(files, tmp_path):
    from fer_classic import load_model, predict_paths
    from fer_classic.exceptions import OutputPathError

    shutil.copytree(files["photo"].parent, tmp_path / "photos")
    before = {p: _md5(p) for p in (tmp_path / "photos").iterdir()}
    with pytest.raises(OutputPathError, match="--annotate"):
        predict_paths(load_model(files["a"]), [tmp_path / "photos"], annotate=tmp_path / "photos")
    assert {p: _md5(p) for p in (tmp_path / "photos").iterdir()} == before


@pytest.mark.parametrize("input_name, there", [("face.png", "face.png"), ("clip.mp4", "clip.avi")])
def test_annotate_folder_never_replaces_a_file_already_there(files, tmp_path, no_work, input_name, there):
    """A copy's name comes from its input (a video's copy is <stem>.avi): a file of that name is the user's."""
    shutil.copy(files["photo"], tmp_path / input_name)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / there).write_text("the user's own file")
    result = CliRunner().invoke(main, ["predict", str(files["a"]), str(tmp_path / input_name),
                                       "--annotate", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert f"1 file(s) there would be replaced by annotated copies: {tmp_path / 'out' / there}" in result.output
    assert (tmp_path / "out" / there).read_text() == "the user's own file"


def test_annotate_folder_copies_an_input_whose_name_starts_with_dashes(files, tmp_path):
    # The copy's name comes from the input in/--x.png, not from a forgotten option value.
    (tmp_path / "in").mkdir()
    shutil.copy(files["photo"], tmp_path / "in" / "--x.png")
    result = CliRunner().invoke(main, ["predict", str(files["a"]), str(tmp_path / "in" / "--x.png"),
                                       "--annotate", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "--x.png").is_file()


@pytest.fixture
def linked_dataset(tmp_path, tiny_faces):
    """A class-folder dataset whose train/happy is a link to elsewhere/happy, and a model beside it."""
    data = write_folder_dataset(tmp_path / "ds", tiny_faces)
    moved = tmp_path / "elsewhere" / "happy"
    moved.parent.mkdir()
    (data / "train" / "happy").rename(moved)
    (data / "train" / "happy").symlink_to(moved, target_is_directory=True)
    return data, moved


LINKED_COMMANDS = {
    "fit --out is an image": ["fit", "--data", "{data}", "--features", "hog", "--clf", "logreg", "--out",
                              "{moved}/{image}"],
    "fit --out is a new file": ["fit", "--data", "{data}", "--out", "{moved}/m.joblib"],
    "describe --duplicates-csv is an image": ["describe", "--data", "{data}", "--duplicates-csv", "{moved}/{image}"],
    "evaluate --report is the folder": ["evaluate", "{a}", "--data", "{data}", "--report", "{moved}"],
    "compare --out is an image": ["compare", "{a}", "{b}", "--data", "{data}", "--out", "{moved}/{image}"],
}


@pytest.mark.parametrize("case", list(LINKED_COMMANDS))
def test_an_output_in_a_class_folder_the_dataset_links_to_is_refused(files, no_work, linked_dataset, case):
    data, moved = linked_dataset
    image = sorted(moved.iterdir())[0].name
    args = [a.format(data=data, moved=moved, image=image, a=files["a"], b=files["b"]) for a in LINKED_COMMANDS[case]]
    before = tree_digest(moved)
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0 and "train/happy in the dataset folder" in result.output, result.output
    assert "links to" in result.output and "Traceback" not in result.output, result.output
    assert tree_digest(moved) == before


def test_fit_refuses_an_affectnet_image_listed_outside_its_root(files, no_work, tmp_path):
    images = shutil.copytree(files["folder"] / "train" / "happy", tmp_path / "aff" / "Manually_Annotated_Images" / "1")
    victim = shutil.copy(files["photo"], tmp_path / "outside.png")
    rows = "".join(f"1/{p.name},0,0,48,48,,1,0,0\n" for p in images.iterdir())
    (tmp_path / "aff" / "training.csv").write_text(
        "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal\n"
        + rows + "../../outside.png,0,0,48,48,,2,0,0\n")
    before = _md5(tmp_path / "outside.png")
    result = CliRunner().invoke(main, ["fit", "--data", str(tmp_path / "aff"), "--out", str(victim)])
    assert result.exit_code != 0 and "is an input of this command" in result.output, result.output
    assert _md5(tmp_path / "outside.png") == before


@pytest.mark.parametrize("command", [
    ["fit", "--data", "{labels}", "--out", "{tmp}/m.joblib"],
    ["evaluate", "{a}", "--data", "{labels}", "--report", "{tmp}/report"],
    ["describe", "--data", "{labels}", "--duplicates-csv", "{tmp}/dup.csv"],
])
@pytest.mark.parametrize("where", ["file name", "folder name"])
def test_a_listed_path_with_a_nul_character_is_no_output(files, no_work, tmp_path, command, where):
    # The row is the loader's to skip; the checks go on to the work, also once the outputs exist
    # (they used to stat every listed path then, and fail with a bare "embedded null byte").
    labels = tmp_path / "labels.csv"
    bad = "ds/train/happy/bad\0name.png" if where == "file name" else "d\0s/train/happy/x.png"
    labels.write_text(files["labels"].read_text().replace("../ds/", f"{files['folder']}/") + f"{bad},happy,train\n")
    (tmp_path / "report").mkdir()
    for name in ("m.joblib", "dup.csv", "report/metrics.json"):
        (tmp_path / name).write_text("old")
    args = [a.format(labels=labels, tmp=tmp_path, a=files["a"]) for a in command]
    result = CliRunner().invoke(main, args)
    assert "work started before the outputs were checked" in result.output, result.output
