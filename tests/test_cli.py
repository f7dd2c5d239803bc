import gc
import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from conftest import tree_digest, write_csv_dataset
from fer_classic import __version__
from fer_classic import cli
from fer_classic.cli import main


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, tiny_faces):
    from fer_classic import fit_model
    path = tmp_path_factory.mktemp("model") / "m.joblib"
    fit_model(tiny_faces, features="hog", clf="svm", out=path)
    return path


@pytest.mark.parametrize("command", [[], ["fit"], ["evaluate"], ["predict"]])
def test_every_command_has_help(runner, command):
    result = runner.invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_version(runner):
    result = runner.invoke(main, ["--version"])
    assert __version__ in result.output


def test_fit_on_default_data_prints_scores_and_saves(runner, tmp_path):
    out = tmp_path / "m.joblib"
    result = runner.invoke(main, ["fit", "--features", "pixels", "--clf", "knn", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output and out.is_file()


def test_fit_json_has_scores_sizes_and_seconds(runner, tmp_path, folder_dataset):
    result = runner.invoke(main, ["fit", "--data", str(folder_dataset), "--clf", "logreg",
                                  "--out", str(tmp_path / "m.joblib"), "--json"])
    summary = json.loads(result.stdout)
    assert {"accuracy", "f1_weighted", "f1_macro", "n_train", "n_test", "seconds"} <= summary.keys()
    assert {"load", "features", "fit", "predict"} <= summary["seconds"].keys()


def _fer2013_halves(path, tiny_faces):
    """fer2013.csv whose test rows alternate between PublicTest and PrivateTest (14 each)."""
    from types import SimpleNamespace

    import numpy as np

    halves = np.where(np.arange(len(tiny_faces)) % 2, "public", "private")
    faces = SimpleNamespace(images=tiny_faces.images, labels=tiny_faces.labels,
                            splits=np.where(tiny_faces.splits == "test", halves, "train"))
    return write_csv_dataset(path, faces,
                             usage_of={"train": "Training", "public": "PublicTest", "private": "PrivateTest"})


def test_fit_json_has_the_accuracy_of_each_fer2013_half(runner, tmp_path, tiny_faces):
    from fer_classic import load_model

    csv, out = _fer2013_halves(tmp_path / "f.csv", tiny_faces), tmp_path / "m.joblib"
    result = runner.invoke(main, ["fit", "--data", str(csv), "--features", "pixels", "--clf", "knn", "--out", str(out),
                                  "--json"])
    assert result.exit_code == 0, result.output
    parts = json.loads(result.stdout)["accuracy_by_group"]  # was missing: the text output alone showed them
    assert {name: part["n"] for name, part in parts.items()} == {"PrivateTest": 14, "PublicTest": 14}
    assert parts == load_model(out).metadata["metrics"]["accuracy_by_group"]


def test_fit_on_unsplit_data_says_it_holds_out(runner, tmp_path, tiny_faces):
    path = write_csv_dataset(tmp_path / "f.csv", tiny_faces, usage_of={"train": "", "test": ""})
    result = runner.invoke(main, ["fit", "--data", str(path), "--clf", "knn", "--out", str(tmp_path / "m.joblib")])
    assert result.exit_code == 0, result.output
    assert "held-out split" in result.output


def test_fit_on_a_test_folder_alone_is_refused_not_trained_on(runner, tmp_path, tiny_faces):
    import numpy as np

    from conftest import write_folder_dataset

    two = tiny_faces.subset(np.isin(tiny_faces.labels, ["happy", "sad"]))
    data = write_folder_dataset(tmp_path / "faces", two.with_splits(np.full(len(two), "test", dtype=object)))
    out = tmp_path / "m.joblib"
    result = runner.invoke(main, ["fit", "--data", str(data), "--features", "hog", "--clf", "logreg",
                                  "--out", str(out)])
    assert result.exit_code == 1 and not out.exists()
    assert f"{data} has no train split to fit on (its images: {len(two)} test)" in result.output
    assert "holding out" not in result.output and "Traceback" not in result.output


def test_evaluate_on_the_data_a_model_held_out_of_says_it_scores_training_images(runner, tmp_path, tiny_faces):
    path = write_csv_dataset(tmp_path / "f.csv", tiny_faces, usage_of={"train": "", "test": ""})
    model = tmp_path / "m.joblib"
    fitted = runner.invoke(main, ["fit", "--data", str(path), "--clf", "logreg", "--out", str(model), "--json"])
    assert fitted.exit_code == 0, fitted.output
    fit = json.loads(fitted.stdout)
    everything = runner.invoke(main, ["evaluate", str(model), "--data", str(path), "--split", "all", "--json"])
    assert everything.exit_code == 0, everything.output
    assert json.loads(everything.stdout)["n_test"] == len(tiny_faces)
    assert (f"warning: The model was fitted on {path}, holding out part of it as the test: the {len(tiny_faces)} "
            f"images of the whole dataset include the {fit['n_train']} images it was trained on, so this score "
            "includes training images") in everything.stderr
    held = runner.invoke(main, ["evaluate", str(model), "--data", str(path), "--split", "held-out", "--json"])
    assert held.exit_code == 0, held.output
    assert "warning" not in held.stderr
    summary = json.loads(held.stdout)
    assert (summary["split"], summary["n_test"]) == ("held-out", fit["n_test"])
    assert summary["accuracy"] == pytest.approx(fit["accuracy"])
    refused = runner.invoke(main, ["evaluate", str(model), "--data", str(path)])
    assert refused.exit_code == 1
    assert (f"score the images it held out with --split held-out (--split all would also score its {fit['n_train']} "
            "training images)") in refused.output


def test_fit_passes_classifier_params(runner, tmp_path):
    out = tmp_path / "m.joblib"
    result = runner.invoke(main, ["fit", "--clf", "svm", "--param", "C=10", "--param", "class_weight=balanced",
                                  "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    from fer_classic import load_model
    params = load_model(out).metadata["params"]
    assert params["C"] == "10" and params["class_weight"] == "'balanced'"


@pytest.mark.parametrize("flag, union", [([], "FeatureUnion"), (["--block-scaling"], "BlockScaledUnion")])
def test_fit_block_scaling_flag_picks_the_union(runner, tmp_path, flag, union):
    out = tmp_path / "m.joblib"
    result = runner.invoke(main, ["fit", "--features", "hog+lbp", "--clf", "logreg", *flag, "--out", str(out)])
    assert result.exit_code == 0, result.output
    from fer_classic import load_model
    model = load_model(out)
    assert type(model.pipeline["features"]).__name__ == union
    assert model.metadata["block_scaling"] is bool(flag)


@pytest.mark.parametrize("args, message", [
    (["--data", "/no/such/path"], "does not exist"),
    (["--features", "surf"], "Unknown features"),
    (["--clf", "boosting"], "Unknown classifier"),
    (["--param", "C"], "NAME=VALUE"),
])
def test_fit_errors_are_clean(runner, tmp_path, args, message):
    result = runner.invoke(main, ["fit", *args, "--out", str(tmp_path / "m.joblib")])
    assert result.exit_code != 0 and message in result.output
    assert "Traceback" not in result.output


def test_evaluate_prints_confusion_matrix(runner, model_file, tmp_path, tiny_faces):
    csv = write_csv_dataset(tmp_path / "f.csv", tiny_faces)
    result = runner.invoke(main, ["evaluate", str(model_file), "--data", str(csv)])
    assert result.exit_code == 0, result.output
    assert "true \\ pred" in result.output and "surprise" in result.output


def test_evaluate_json_on_a_fer2013_half(runner, model_file, tmp_path, tiny_faces):
    csv = write_csv_dataset(tmp_path / "f.csv", tiny_faces, usage_of={"train": "Training", "test": "PrivateTest"})
    result = runner.invoke(main, ["evaluate", str(model_file), "--data", str(csv), "--split", "PrivateTest", "--json"])
    summary = json.loads(result.stdout)
    assert summary["n_test"] == 28 and summary["split"] == "PrivateTest"


def test_evaluate_json_has_the_accuracy_of_each_fer2013_half(runner, model_file, tmp_path, tiny_faces):
    csv = _fer2013_halves(tmp_path / "f.csv", tiny_faces)
    both = runner.invoke(main, ["evaluate", str(model_file), "--data", str(csv), "--json"])
    assert both.exit_code == 0, both.output
    parts = json.loads(both.stdout)["accuracy_by_group"]  # was missing: the text output alone showed them
    assert {name: part["n"] for name, part in parts.items()} == {"PrivateTest": 14, "PublicTest": 14}
    private = runner.invoke(main, ["evaluate", str(model_file), "--data", str(csv), "--split", "PrivateTest", "--json"])
    assert parts["PrivateTest"]["accuracy"] == pytest.approx(json.loads(private.stdout)["accuracy"])


@pytest.mark.parametrize("split, n_test", [("ALL", 112), ("all", 112), ("test", 28)])
def test_evaluate_split_all_in_any_case_scores_every_image(runner, model_file, tmp_path, tiny_faces, split, n_test):
    csv = write_csv_dataset(tmp_path / "f.csv", tiny_faces)
    result = runner.invoke(main, ["evaluate", str(model_file), "--data", str(csv), "--split", split, "--json"])
    assert json.loads(result.stdout)["n_test"] == n_test


@pytest.mark.parametrize("command", ["evaluate", "compare"])
def test_an_empty_split_is_refused_not_read_as_all(runner, model_file, tmp_path, tiny_faces, command):
    csv = write_csv_dataset(tmp_path / "f.csv", tiny_faces)
    result = runner.invoke(main, [command, str(model_file), "--data", str(csv), "--split", " "])
    assert result.exit_code == 2 and "Invalid value for '--split': is empty" in result.output


@pytest.mark.parametrize("command", [["fit"], ["search"], ["describe"], ["evaluate", "m.joblib"],
                                     ["compare", "m.joblib"], ["report-search", "m.joblib"]])
def test_an_empty_data_path_is_refused_not_read_as_the_current_folder(runner, tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)  # the folder an empty --data (an unset variable) was read as
    result = runner.invoke(main, [*command, "--data", ""])
    assert result.exit_code == 2 and "Invalid value for '--data': is empty; give a path" in result.output


def test_evaluate_rejects_a_non_model_file(runner, tmp_path, folder_dataset):
    bogus = tmp_path / "m.joblib"
    bogus.write_text("hello")
    result = runner.invoke(main, ["evaluate", str(bogus), "--data", str(folder_dataset)])
    assert result.exit_code != 0 and "not a readable fer-classic model" in result.output


@pytest.mark.parametrize("fmt, marker", [("table", "source"), ("json", '"label"'), ("csv", "source,label,score_kind")])
def test_predict_formats(runner, model_file, folder_dataset, fmt, marker):
    result = runner.invoke(main, ["predict", str(model_file), str(folder_dataset / "test" / "sad"), "--format", fmt])
    assert result.exit_code == 0, result.output
    assert marker in result.output


def test_predict_reports_unreadable_file_and_succeeds_with_the_rest(runner, model_file, folder_dataset, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"")
    good = next((folder_dataset / "test" / "happy").iterdir())
    result = runner.invoke(main, ["predict", str(model_file), str(good), str(bad), "--format", "json"])
    assert result.exit_code == 0
    assert "1 of 2 files could not be read" in result.stderr


def test_predict_fails_when_nothing_could_be_read(runner, model_file, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"junk")
    assert runner.invoke(main, ["predict", str(model_file), str(bad)]).exit_code == 1


def test_cli_never_changes_the_dataset(runner, folder_dataset, tmp_path):
    before = tree_digest(folder_dataset)
    runner.invoke(main, ["fit", "--data", str(folder_dataset), "--clf", "knn", "--out", str(tmp_path / "m.joblib")])
    assert tree_digest(folder_dataset) == before


def _run_command(*args: str) -> subprocess.CompletedProcess:
    """``fer-classic ARGS`` through the console entry point, ``fer_classic.cli.run``, with an exit handler."""
    code = ("import atexit, sys; atexit.register(lambda: print('exit handler ran'))\n"
            "from fer_classic.cli import run\n"
            f"sys.argv = ['fer-classic', *{list(args)!r}]\n"
            "run()")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("args", "code", "stream", "text"), [
    (["--version"], 0, "stdout", "fer-classic, version"),
    (["fit", "--clf", "nonsense"], 1, "stderr", "Unknown classifier 'nonsense'"),
    (["fit", "--no-such-option"], 2, "stderr", "No such option"),
])
def test_the_console_entry_point_keeps_exit_codes_output_and_exit_handlers(args, code, stream, text):
    result = _run_command(*args)
    assert result.returncode == code
    assert text in getattr(result, stream)
    assert result.stdout.rstrip().endswith("exit handler ran")


def test_a_command_works_with_the_collector_that_run_paused_for_its_imports(monkeypatch):
    monkeypatch.setattr(cli, "_COLLECTOR_PAUSED", True)  # as run() leaves it
    gc.disable()
    try:
        assert cli._run(gc.isenabled) is True
    finally:
        gc.enable()
        gc.unfreeze()


class _Exited(Exception):
    """os._exit, as run() ends the process, caught in the test's process instead."""


def test_sigterm_unwinds_the_command_like_ctrl_c_and_run_puts_the_handler_back(monkeypatch, tmp_path):
    # SIGTERM (timeout, Slurm, docker stop) killed outright: search's TemporaryDirectory of cached
    # features and a write's temporary stayed behind. Here a step sends it to this very process.
    import atexit
    import os
    import signal
    import tempfile
    import time

    made = []

    @click.command()
    def step():  # a command's step (search's feature cache); a command of its own, to import nothing heavy
        with tempfile.TemporaryDirectory(dir=tmp_path) as folder:
            made.append(folder)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(10)  # interrupted by the handler's exception
        raise AssertionError("the command went on after SIGTERM")

    def earlier(signum, frame):  # the caller's own handler: run() must use its own, then put this back
        raise AssertionError("SIGTERM reached the handler run() replaced")

    def exit_(code):
        raise _Exited(code)

    monkeypatch.setitem(main.commands, "step", step)
    monkeypatch.setattr(sys, "argv", ["fer-classic", "step"])
    monkeypatch.setattr(atexit, "_run_exitfuncs", lambda: None)  # pytest's own exit handlers
    monkeypatch.setattr(os, "_exit", exit_)
    monkeypatch.setattr(cli, "_COLLECTOR_PAUSED", False)
    previous = signal.signal(signal.SIGTERM, earlier)
    started = time.monotonic()
    try:
        with pytest.raises((_Exited, SystemExit)) as exited:
            cli.run()
        assert signal.getsignal(signal.SIGTERM) is earlier
    finally:
        signal.signal(signal.SIGTERM, previous)
        gc.enable()
        gc.unfreeze()
    code = exited.value.args[0] if isinstance(exited.value, _Exited) else exited.value.code
    assert code == 143 and time.monotonic() - started < 5
    assert made and not os.path.exists(made[0])


class _FakeRay:
    """ray.init as Ray's: it installs its own SIGTERM handler (sys.exit(15))."""

    def __init__(self):
        self.shut = False

    def is_initialized(self):
        return False

    def init(self, **kwargs):
        import signal

        signal.signal(signal.SIGTERM, self.exit_15)

    def exit_15(self, signum, frame):
        sys.exit(signum)

    def shutdown(self):
        self.shut = True


@pytest.mark.parametrize("before", ["the command line's", "the default"])
def test_a_ray_session_keeps_the_commands_sigterm_handler(monkeypatch, before):
    # --backend ray: ray.init's handler made SIGTERM exit 15, without "Terminated (SIGTERM).", and a second
    # SIGTERM raised again instead of killing.
    import signal

    from fer_classic import _distributed

    fake = _FakeRay()
    monkeypatch.setattr(_distributed, "import_optional", lambda name, option: fake)
    monkeypatch.setattr(_distributed, "check_scheduler", lambda *a, **k: None)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    handler = cli._sigterm if before == "the command line's" else signal.SIG_DFL
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        with _distributed.ray_session(None):
            during = signal.getsignal(signal.SIGTERM)
        after = signal.getsignal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert during == (cli._sigterm if before == "the command line's" else fake.exit_15)
    assert after is handler and fake.shut  # Ray's handler is gone with its session


def test_fit_and_evaluate_json_give_the_same_test_score_keys_and_values(runner, tmp_path, folder_dataset):
    # fit --json lacked accuracy_ci and balanced_accuracy (its text prints both), which evaluate --json gives.
    model = tmp_path / "m.joblib"
    fitted = runner.invoke(main, ["fit", "--data", str(folder_dataset), "--clf", "logreg", "--out", str(model),
                                  "--json"])
    scored = runner.invoke(main, ["evaluate", str(model), "--data", str(folder_dataset), "--json"])
    fit, evaluate = json.loads(fitted.stdout), json.loads(scored.stdout)
    keys = ("accuracy", "accuracy_ci", "balanced_accuracy", "f1_weighted", "f1_macro", "n_test", "per_class",
            "classes", "confusion_matrix")
    assert {k: fit[k] for k in keys} == {k: evaluate[k] for k in keys}
    assert {"roc_auc_macro", "roc_auc_micro", "n_train", "held_out_test"} <= fit.keys()  # nothing taken away
