"""The chunked fit on Dask workers: the same model and predictions as a local fit, from paths."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import FER_FOLDER, requires_fer_folder, tree_digest

pytest.importorskip("dask.distributed")

from fer_classic import load_dataset  # noqa: E402
from fer_classic.cli import main  # noqa: E402
from fer_classic.estimators import LandmarkRidgeClassifier  # noqa: E402
from fer_classic.workflow import evaluate_model, fit_model  # noqa: E402

APPROX = {"features": "hog", "clf": "svm", "clf_params": {"backend": "approx", "n_components": 60}}


@pytest.fixture(scope="module")
def cluster():
    """Two in-process workers of one thread each, torn down after the module."""
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as local:
        yield local


def _predictions(result, data):
    test = load_dataset(data).select("test")
    return result.model.predict(test.images), result.model.pipeline.decision_function(test.X)


def test_dask_fit_predicts_like_local_fit(folder_dataset, cluster):
    local = fit_model(folder_dataset, **APPROX)
    remote = fit_model(folder_dataset, backend="dask", scheduler=cluster.scheduler_address, chunk_size=16, **APPROX)
    (labels_a, scores_a), (labels_b, scores_b) = _predictions(local, folder_dataset), _predictions(remote,
                                                                                                  folder_dataset)
    np.testing.assert_array_equal(labels_a, labels_b)
    np.testing.assert_allclose(scores_a, scores_b, atol=1e-8)


def test_dask_fit_is_the_local_model_object(folder_dataset, cluster):
    remote = fit_model(folder_dataset, backend="dask", scheduler=cluster.scheduler_address, chunk_size=16, **APPROX)
    svm = remote.model.pipeline[-1].estimator_
    assert svm.backend_ == "approx" and isinstance(svm.estimator_, LandmarkRidgeClassifier)
    assert remote.model.metadata["training"]["n_train"] == remote.n_train
    assert remote.model.metadata["chunked_fit"]["backend"] == "dask"


def test_dask_fit_leaves_data_untouched(folder_dataset, cluster):
    before = tree_digest(folder_dataset)
    fit_model(folder_dataset, backend="dask", scheduler=cluster.scheduler_address, chunk_size=16, **APPROX)
    assert tree_digest(folder_dataset) == before


def test_dask_evaluate_scores_like_local_evaluate(folder_dataset, cluster):
    model = fit_model(folder_dataset, **APPROX).model
    local = evaluate_model(model, folder_dataset)
    remote = evaluate_model(model, folder_dataset, backend="dask", scheduler=cluster.scheduler_address,
                            chunk_size=16)
    assert remote.metrics["accuracy"] == local.metrics["accuracy"]
    assert remote.n_test == local.n_test


@pytest.mark.parametrize("change, match", [
    ({"clf": "logreg", "clf_params": {}}, "--clf 'logreg'"),
    ({"clf_params": {"backend": "sklearn"}}, "backend=approx"),
    ({"features": "hog+sift"}, "--features 'hog\\+sift'"),
    ({"flip": True}, "--flip"),
    ({"mirror_kernel": True, "clf": "kernel-svm", "clf_params": {}}, "--mirror-kernel"),
    ({"dedupe_data": True}, "--dedupe"),
    ({"chunk_size": 0}, "--chunk-size"),
])
def test_unsupported_options_are_named_before_work(folder_dataset, change, match):
    with pytest.raises(ValueError, match=match):
        fit_model(folder_dataset, backend="dask", scheduler="tcp://127.0.0.1:1", **{**APPROX, **change})


def test_dask_fit_needs_a_folder_tree(tiny_faces):
    with pytest.raises(Exception, match="class-folder trees"):
        fit_model(tiny_faces, backend="dask", scheduler="tcp://127.0.0.1:1", **APPROX)


def test_scheduler_without_dask_backend_is_an_error(folder_dataset):
    with pytest.raises(ValueError, match="--scheduler"):
        fit_model(folder_dataset, scheduler="tcp://127.0.0.1:1", **APPROX)


def test_cli_fit_backend_dask(folder_dataset, cluster, tmp_path):
    out = tmp_path / "m.joblib"
    result = CliRunner().invoke(main, ["fit", "--data", str(folder_dataset), "--clf", "svm", "--param",
                                       "backend=approx", "--param", "n_components=60", "--backend", "dask",
                                       "--scheduler", cluster.scheduler_address, "--chunk-size", "16",
                                       "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert out.is_file()


@requires_fer_folder
@pytest.mark.realdata
def test_fer2013_subset_dask_fit_predicts_like_local_fit(tmp_path, cluster):
    """A few FER2013 files per class (copied to a temporary tree): the same test predictions."""
    root = tmp_path / "fer"
    for split, n in (("train", 40), ("test", 15)):
        for folder in sorted((FER_FOLDER / split).iterdir()):
            (root / split / folder.name).mkdir(parents=True)
            for path in sorted(folder.glob("*.jpg"))[:n]:
                shutil.copy(path, root / split / folder.name)
    params = {**APPROX, "clf_params": {"backend": "approx", "n_components": 100}}
    local = fit_model(root, **params)
    remote = fit_model(root, backend="dask", scheduler=cluster.scheduler_address, chunk_size=64, **params)
    np.testing.assert_array_equal(_predictions(local, root)[0], _predictions(remote, root)[0])


def test_dask_predict_gives_the_local_rows(folder_dataset, cluster):
    from fer_classic._distributed import predict_paths_chunked
    from fer_classic.prediction import predict_paths

    model = fit_model(folder_dataset, **APPROX).model
    local = predict_paths(model, [folder_dataset / "test"])
    remote = predict_paths_chunked(model, [folder_dataset / "test"], scheduler=cluster.scheduler_address,
                                   chunk_size=5)
    assert [(r["source"], r["label"]) for r in remote.rows] == [(r["source"], r["label"]) for r in local.rows]
    assert remote.n_inputs == local.n_inputs and remote.failed == local.failed


def test_cli_predict_backend_dask_refuses_annotate(folder_dataset, tmp_path):
    model = tmp_path / "m.joblib"
    fit_model(folder_dataset, out=model, **APPROX)
    result = CliRunner().invoke(main, ["predict", str(model), str(folder_dataset / "test"), "--backend", "dask",
                                       "--annotate", str(tmp_path / "out")])
    assert result.exit_code != 0 and "--annotate" in result.output


def test_cli_evaluate_backend_dask(folder_dataset, cluster, tmp_path):
    model = tmp_path / "m.joblib"
    fit_model(folder_dataset, out=model, **APPROX)
    result = CliRunner().invoke(main, ["evaluate", str(model), "--data", str(folder_dataset), "--backend", "dask",
                                       "--scheduler", cluster.scheduler_address, "--json"])
    assert result.exit_code == 0, result.output
    assert '"n_test"' in result.output


@pytest.fixture
def listening_server():
    """A TCP server on a free port that accepts connections and answers ``reply`` (None: stays silent)."""
    import socket
    import threading

    servers = []

    def start(reply: bytes | None):
        server = socket.create_server(("127.0.0.1", 0))
        servers.append(server)

        def serve():
            conns = []
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:  # closed at teardown
                    break
                conns.append(conn)
                if reply is not None:
                    conn.sendall(reply)

        threading.Thread(target=serve, daemon=True).start()
        return server.getsockname()[1]

    yield start
    for server in servers:
        server.close()


@pytest.mark.parametrize("backend", ["dask", "ray"])
@pytest.mark.parametrize("address, match", [
    ("127.0.0.1:1", "cannot connect"),  # nothing listens on port 1: refused at once (Dask retried for 30 s)
    ("127.0.0.1:0", "port must be a number from 1 to 65535; got '0'"),
    ("127.0.0.1:70000", "got '70000'"),
    ("127.0.0.1:abc", "got 'abc'"),
    ("", "--scheduler is empty"),  # was a local cluster, silently
    ("nosuchhost.invalid:8786", "cannot connect"),
])
def test_bad_scheduler_address_is_refused_fast(backend, address, match):
    import time

    from fer_classic._distributed import check_scheduler

    start = time.monotonic()
    with pytest.raises(ValueError, match=match):
        check_scheduler(backend, address)
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("backend, address", [("dask", "tcp://127.0.0.1:{}"), ("ray", "127.0.0.1:{}"),
                                              ("ray", "ray://127.0.0.1:{}")])
@pytest.mark.parametrize("reply", [None, b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n"])
def test_scheduler_address_of_another_server_is_refused(listening_server, backend, address, reply):
    """Dask waited forever on a silent server and read an HTTP reply as a 3 EiB frame ('out of memory')."""
    import time

    from fer_classic._distributed import check_scheduler

    port = listening_server(reply)
    start = time.monotonic()
    with pytest.raises(ValueError, match="no (Dask )?answer within|not Dask|not as a Ray cluster"):
        check_scheduler(backend, address.format(port), timeout=1)
    assert time.monotonic() - start < 3


def test_ray_address_with_dask_scheme_is_refused():
    from fer_classic._distributed import check_scheduler

    with pytest.raises(ValueError, match="Ray addresses are auto"):  # was an 'unexpected' error from Ray
        check_scheduler("ray", "tcp://127.0.0.1:8786")


def test_scheduler_address_must_be_a_dask_scheduler():
    from dask.distributed import LocalCluster

    from fer_classic._distributed import check_scheduler

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                      dashboard_address=":0") as local:
        check_scheduler("dask", local.scheduler_address)  # a scheduler passes
        worker = next(iter(local.scheduler_info["workers"]))
        with pytest.raises(ValueError, match="a Dask Worker answers there"):
            check_scheduler("dask", worker)


def test_cli_bad_scheduler_is_one_line(folder_dataset, tmp_path):
    model = tmp_path / "m.joblib"
    fit_model(folder_dataset, out=model, **APPROX)
    for args in (["predict", str(model), str(folder_dataset / "test")],
                 ["evaluate", str(model), "--data", str(folder_dataset)]):
        result = CliRunner().invoke(main, [*args, "--backend", "dask", "--scheduler", "tcp://127.0.0.1:70000"])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert result.output.strip().splitlines() == [
            "Error: --scheduler 'tcp://127.0.0.1:70000': the port must be a number from 1 to 65535; got '70000'."]


def test_ray_address_from_the_environment_is_checked_too(monkeypatch):
    """RAY_ADDRESS=127.0.0.1:1 made ray.init retry for minutes."""
    import sys
    import types

    from fer_classic._distributed import ray_session

    fake = types.SimpleNamespace(is_initialized=lambda: False,
                                 init=lambda **kw: pytest.fail("ray.init reached"), shutdown=lambda: None)
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    with pytest.raises(ValueError, match="^RAY_ADDRESS \\(environment\\) 127.0.0.1:1: cannot connect"):
        with ray_session(None):
            pass


def test_cli_empty_feature_store_is_refused(folder_dataset, tmp_path, monkeypatch):
    """--feature-store '' (an unset variable) put a feature store in the current folder, unasked."""
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    result = CliRunner().invoke(main, ["fit", "--data", str(folder_dataset), "--clf", "ridge", "--feature-store", "",
                                       "--out", str(tmp_path / "m.joblib")])
    assert result.exit_code == 2 and "Invalid value for '--feature-store': is empty" in result.output
    assert list(here.iterdir()) == []
