"""The chunked fit, evaluate and predict on Ray: the same model and predictions as a local run, from paths."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import write_folder_dataset

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'fer-classic[ray]')")

from fer_classic import load_dataset  # noqa: E402
from fer_classic._distributed import _add, _RayTasks, predict_paths_chunked, ray_session  # noqa: E402
from fer_classic.exceptions import WorkerError  # noqa: E402
from fer_classic.cli import main  # noqa: E402
from fer_classic.estimators import LandmarkRidgeClassifier  # noqa: E402
from fer_classic.prediction import predict_paths  # noqa: E402
from fer_classic.workflow import evaluate_model, fit_model  # noqa: E402

MODELS = {
    "approx svm": {"features": "hog", "clf": "svm", "clf_params": {"backend": "approx", "n_components": 60}},
    "ridge": {"features": "hog", "clf": "ridge"},
}


@pytest.fixture(scope="module")
def session():
    """One local Ray instance for the module (starting one takes seconds): 2 CPUs, a 200 MB object store.

    ``backend="ray"`` without an address uses it and leaves it running.
    """
    if ray.is_initialized():  # another module's: ours needs its own small one
        ray.shutdown()
    ray.init(num_cpus=2, object_store_memory=200 * 1024**2, include_dashboard=False, logging_level="ERROR",
             log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def tree(tmp_path_factory, tiny_faces):
    """The tiny synthetic faces as a class-folder tree (84 train, 28 test images)."""
    return write_folder_dataset(tmp_path_factory.mktemp("faces"), tiny_faces)


@pytest.fixture(scope="module")
def local_model(tree):
    """The in-memory approximate SVM, for evaluate and predict."""
    return fit_model(tree, **MODELS["approx svm"]).model


@pytest.mark.parametrize("name", MODELS)
def test_ray_fit_predicts_like_local_fit(session, tree, name):
    local = fit_model(tree, **MODELS[name])
    remote = fit_model(tree, backend="ray", chunk_size=16, **MODELS[name])  # 6 chunks: an uneven tree of sums
    test = load_dataset(tree).select("test")
    np.testing.assert_array_equal(remote.model.predict(test.images), local.model.predict(test.images))
    scores = local.model.pipeline.decision_function(test.X)
    np.testing.assert_allclose(remote.model.pipeline.decision_function(test.X), scores,
                               rtol=1e-8, atol=1e-10 * np.abs(scores).max())
    assert remote.model.metadata["chunked_fit"]["backend"] == "ray"
    assert remote.n_train == local.n_train
    if name == "approx svm":  # the local fit's objects
        assert isinstance(remote.model.pipeline[-1].estimator_.estimator_, LandmarkRidgeClassifier)
    assert ray.is_initialized()  # the caller's session is left running


def test_ray_evaluate_scores_like_local_evaluate(session, tree, local_model):
    local = evaluate_model(local_model, tree)
    remote = evaluate_model(local_model, tree, backend="ray", chunk_size=10)
    assert remote.metrics == local.metrics
    assert remote.n_test == local.n_test


def test_ray_predict_gives_the_local_rows(session, tree, local_model):
    local = predict_paths(local_model, [tree / "test"])
    remote = predict_paths_chunked(local_model, [tree / "test"], backend="ray", chunk_size=5)
    assert [(r["source"], r["label"]) for r in remote.rows] == [(r["source"], r["label"]) for r in local.rows]
    assert remote.n_inputs == local.n_inputs and remote.failed == local.failed


def test_cli_backend_ray(session, tree, tmp_path):
    out = tmp_path / "m.joblib"
    runner = CliRunner()
    fitted = runner.invoke(main, ["fit", "--data", str(tree), "--clf", "ridge", "--backend", "ray",
                                  "--chunk-size", "32", "--out", str(out), "--json"])
    assert fitted.exit_code == 0, fitted.output
    scored = runner.invoke(main, ["evaluate", str(out), "--data", str(tree), "--backend", "ray", "--json"])
    assert scored.exit_code == 0 and '"n_test": 28' in scored.output, scored.output
    predicted = runner.invoke(main, ["predict", str(out), str(tree / "test"), "--backend", "ray",
                                     "--format", "csv"])
    assert predicted.exit_code == 0 and len(predicted.output.splitlines()) == 1 + 28, predicted.output


def test_a_task_error_is_the_task_own(session):
    """A task's exception reaches the caller as itself, as with Dask (not wrapped in a RayTaskError)."""
    tasks = _RayTasks(ray)
    with pytest.raises(TypeError, match="unsupported operand") as caught:
        tasks.gather([tasks.submit(_add, 1, "x")])
    assert not isinstance(caught.value, ray.exceptions.RayTaskError)


def test_a_shared_object_is_resolved_once_per_worker_process(session):
    """Ray deserialises a task's arguments per task; a put object is fetched once per process instead."""
    def _resolved_in_task(shared):  # nested: pickled by value, the workers cannot import this module
        import os

        from fer_classic._distributed import _local

        resolved = _local(shared)
        resolved["uses"] = resolved.get("uses", 0) + 1  # counts on the one copy of this process
        return os.getpid(), resolved["uses"]

    tasks = _RayTasks(ray)
    shared = tasks.put({"model": np.arange(10)})
    seen = tasks.gather([tasks.submit(_resolved_in_task, shared) for _ in range(12)])
    for pid in {pid for pid, _ in seen}:
        uses = sorted(n for p, n in seen if p == pid)
        assert uses == list(range(1, len(uses) + 1)), seen


def test_ray_evaluate_of_a_compact_exact_svm_scores_like_local(session, tree):
    from fer_classic.estimators._precomputed_svc import _exact_svm

    model = fit_model(tree, features="hog", clf="svm").model
    assert hasattr(_exact_svm(model.pipeline[-1]), "support_codes_")  # rebuilt on the workers
    assert evaluate_model(model, tree, backend="ray", chunk_size=7).metrics == evaluate_model(model, tree).metrics


def test_a_dead_worker_is_one_clear_error(session):
    def _crash():
        import os

        os._exit(1)

    tasks = _RayTasks(ray)
    with pytest.raises(WorkerError, match="Ray worker failed"):
        tasks.gather([tasks.submit(_crash)])  # retried by Ray, then lost


def test_ray_session_shuts_down_only_what_it_started(monkeypatch):
    """A local start gets this machine's CPUs and no dashboard, and is shut down after; a running one is kept."""
    calls = []
    fake = types.SimpleNamespace(is_initialized=lambda: bool(calls and calls[-1][0] == "init"),
                                 init=lambda **kw: calls.append(("init", kw)),
                                 shutdown=lambda: calls.append(("shutdown", {})))
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with ray_session(None) as started:
        with ray_session(None):  # the session just started: used, not shut down
            pass
        assert started is fake and [c[0] for c in calls] == ["init"]
    (_, kwargs), (last, _) = calls
    assert last == "shutdown" and kwargs["include_dashboard"] is False and kwargs["num_cpus"] >= 1
    calls.clear()
    checked = []  # the address is checked (check_scheduler, tests/test_distributed.py) before ray.init
    monkeypatch.setattr("fer_classic._distributed.check_scheduler", lambda *args: checked.append(args))
    with ray_session("ray://head:10001"):
        pass
    assert checked == [("ray", "ray://head:10001")]
    assert calls[0] == ("init", {"address": "ray://head:10001", "logging_level": 40, "log_to_driver": False})


def test_fit_checks_ray_address_before_the_images(tree, monkeypatch):
    """RAY_ADDRESS was checked by ray_session only, after the test split was decoded."""
    monkeypatch.setattr("fer_classic._distributed._workers", lambda *a: pytest.fail("workers reached"))
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    with pytest.raises(ValueError, match="^RAY_ADDRESS \\(environment\\) '127.0.0.1:1': cannot connect"):
        fit_model(tree, backend="ray", **MODELS["ridge"])


@pytest.mark.parametrize("options, match", [
    ({"feature_store": "store"}, "--feature-store"),
    ({"clf": "logreg", "clf_params": {}}, "--clf 'logreg'"),
])
def test_unsupported_options_are_named_before_work(tree, options, match):
    with pytest.raises(ValueError, match=match):
        fit_model(tree, backend="ray", **{**MODELS["approx svm"], **options})


def test_search_on_ray_finds_the_same_best_params(session, tiny_faces):
    from fer_classic.model_selection import search_model

    grid = {"clf__estimator__C": [0.001, 0.1, 10.0]}
    local = search_model(tiny_faces, features="hog", clf="logreg", grid=grid, cv=3)
    remote = search_model(tiny_faces, features="hog", clf="logreg", grid=grid, cv=3, backend="ray", n_jobs=2)
    assert remote.best_params == local.best_params
    np.testing.assert_allclose([r["mean_test_score"] for r in remote.cv_results],
                               [r["mean_test_score"] for r in local.cv_results])
    assert ray.is_initialized()  # the module's session was used, not shut down
