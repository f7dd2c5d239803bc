"""The chunked fit on Dask workers: the same model and predictions as a local fit, from paths."""

from __future__ import annotations

import inspect
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import FER_FOLDER, requires_fer_folder, tree_digest, write_folder_dataset

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
    labels_a, scores_a = _predictions(local, folder_dataset)
    labels_b, scores_b = _predictions(remote, folder_dataset)
    np.testing.assert_array_equal(labels_a, labels_b)
    np.testing.assert_allclose(scores_a, scores_b, atol=1e-8)


def test_dask_fit_is_the_local_model_object(folder_dataset, cluster):
    remote = fit_model(folder_dataset, backend="dask", scheduler=cluster.scheduler_address, chunk_size=16, **APPROX)
    svm = remote.model.pipeline[-1].estimator_
    assert svm.backend_ == "approx" and isinstance(svm.estimator_, LandmarkRidgeClassifier)
    assert remote.model.metadata["training"]["n_train"] == remote.n_train
    assert remote.model.metadata["chunked_fit"]["backend"] == "dask"
    # The faces hashed on the workers chunk by chunk: a local load's fingerprint (evaluate recognises a copy).
    local = load_dataset(folder_dataset).select("train").fingerprint()
    assert remote.model.metadata["training"]["fingerprint"] == local


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


def test_dask_evaluate_of_the_train_split_warns_like_local_evaluate(folder_dataset, cluster):
    from fer_classic.exceptions import DataLeakageWarning

    model = fit_model(folder_dataset, features="hog", clf="logreg").model
    with pytest.warns(DataLeakageWarning, match=r"fitted on the train split of .*score --split test"):
        remote = evaluate_model(model, folder_dataset, split="train", backend="dask",
                                scheduler=cluster.scheduler_address, chunk_size=64)
    assert remote.n_test == int((load_dataset(folder_dataset).splits == "train").sum())


def test_dask_evaluate_gives_the_accuracy_of_each_fer2013_half_like_local(folder_dataset, fitted_model, cluster):
    from fer_classic.exceptions import SkippedFilesWarning

    # Kaggle's file prefixes name each test image's half; one undecodable file is skipped on both backends.
    for i, path in enumerate(sorted((folder_dataset / "test").rglob("*.png"))):
        path.rename(path.with_name(f"{('PublicTest', 'PrivateTest')[i % 2]}_{path.name}"))
    (folder_dataset / "test" / "happy" / "PublicTest_broken.png").write_bytes(b"not an image")
    with pytest.warns(SkippedFilesWarning, match="1 of"):
        local = evaluate_model(fitted_model, folder_dataset)
    with pytest.warns(SkippedFilesWarning, match="1 of 29 files under .* could not be decoded"):  # was silent
        remote = evaluate_model(fitted_model, folder_dataset, backend="dask", scheduler=cluster.scheduler_address,
                                chunk_size=5)
    parts = remote.metrics["accuracy_by_group"]  # was missing: no groups were passed on the workers' road
    assert {name: part["n"] for name, part in parts.items()} == {"PrivateTest": 14, "PublicTest": 14}
    assert parts == local.metrics["accuracy_by_group"] and len(remote.skipped) == len(local.skipped) == 1


@pytest.fixture
def held_out_folder(tmp_path, tiny_faces):
    """A class-folder tree without splits and a model whose local fit held 20 % of it out."""
    root = write_folder_dataset(tmp_path / "unsplit", tiny_faces.with_splits(np.full(len(tiny_faces), "")))
    return root, fit_model(root, features="hog", clf="logreg")


def test_dask_evaluate_of_data_a_model_held_out_of_warns_and_refuses_like_local(held_out_folder, cluster):
    from fer_classic.exceptions import DataLeakageWarning, DatasetError

    root, fitted = held_out_folder
    on_dask = {"backend": "dask", "scheduler": cluster.scheduler_address, "chunk_size": 64}
    # The held-out advice names the backend that takes --split held-out (the workers do not).
    local = r"--split held-out with --backend local \(the workers do not recompute it\)"
    with pytest.warns(DataLeakageWarning, match=rf"the {fitted.n_train} images it was trained on.*{local}"):
        everything = evaluate_model(fitted.model, root, split=None, **on_dask)
    assert everything.n_test == fitted.n_train + fitted.n_test
    with pytest.raises(DatasetError, match=rf"score the images it held out with {local}"):
        evaluate_model(fitted.model, root, split="test", **on_dask)


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


@pytest.mark.parametrize("chunk_size", [0, -1, 2.5, True])
def test_dask_evaluate_checks_chunk_size_as_fit_does(folder_dataset, fitted_model, chunk_size):
    with pytest.raises(ValueError, match=r"chunk_size \(--chunk-size\) must be a positive integer"):
        evaluate_model(fitted_model, folder_dataset, backend="dask", chunk_size=chunk_size)


def test_listed_paths_are_absolute_for_remote_workers(folder_dataset, monkeypatch):
    from fer_classic._distributed import list_images

    monkeypatch.chdir(folder_dataset.parent)
    listing = list_images(folder_dataset.name)
    assert all(path.startswith(str(folder_dataset)) for path in listing.paths)  # were relative to this folder


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


def test_dask_predict_warns_that_every_skips_no_frame_without_a_video(folder_dataset, cluster):
    from fer_classic._distributed import predict_paths_chunked

    model = fit_model(folder_dataset, **APPROX).model
    with pytest.warns(UserWarning, match="--every 3 .*no input is a video") as caught:
        predict_paths_chunked(model, [folder_dataset / "test"], scheduler=cluster.scheduler_address, every=3,
                              chunk_size=5)
    assert sum("no input is a video" in str(w.message) for w in caught) == 1  # once, not once per task


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
    """A TCP server on a free port that accepts connections and answers ``reply``.

    ``reply``: bytes, a list of parts sent a moment apart, or None (stays silent). Shut down after the
    test: its thread joined, every socket closed.
    """
    import socket
    import threading
    import time

    servers, threads, conns = [], [], []

    def start(reply):
        parts = [] if reply is None else [reply] if isinstance(reply, bytes) else list(reply)
        server = socket.create_server(("127.0.0.1", 0))
        servers.append(server)

        def serve():
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:  # shut down at teardown
                    return
                conns.append(conn)
                try:
                    for i, part in enumerate(parts):
                        if i:
                            time.sleep(0.05)  # the client's recv() returns the first part alone
                        conn.sendall(part)
                except OSError:  # the client left
                    pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        threads.append(thread)
        return server.getsockname()[1]

    yield start
    for server in servers:
        try:  # wakes the thread's accept() (close() alone does not, on Linux)
            server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        server.close()
    for thread in threads:
        thread.join(timeout=10)
    for conn in conns:
        conn.close()
    assert not any(thread.is_alive() for thread in threads)


@pytest.mark.parametrize("backend", ["dask", "ray"])
@pytest.mark.parametrize("address, match", [
    ("127.0.0.1:1", "cannot connect"),  # nothing listens on port 1: refused at once (Dask retried for 30 s)
    ("127.0.0.1:0", "port must be a number from 1 to 65535; got '0'"),
    ("127.0.0.1:70000", "got '70000'"),
    ("127.0.0.1:abc", "got 'abc'"),
    ("", "--scheduler is empty"),  # was a local cluster, silently
])
def test_bad_scheduler_address_is_refused_fast(backend, address, match):
    import time

    import distributed.comm  # noqa: F401 - imported before the clock starts

    from fer_classic._distributed import check_scheduler

    start = time.monotonic()
    with pytest.raises(ValueError, match=match):
        check_scheduler(backend, address, timeout=60)
    assert time.monotonic() - start < 20  # at once, not after the timeout (a loaded CI machine: a wide margin)


@pytest.mark.parametrize("backend", ["dask", "ray"])
def test_unknown_host_is_refused(backend, monkeypatch):
    import socket

    from fer_classic._distributed import check_scheduler

    asked = []

    def unknown(host, *args, **kwargs):  # no DNS query: the system resolver's answer for an unknown name
        asked.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unknown)
    with pytest.raises(ValueError, match="^--scheduler 'nosuchhost.invalid:8786': cannot connect "
                                         "\\(Name or service not known\\); give the address of a running"):
        check_scheduler(backend, "nosuchhost.invalid:8786")
    assert asked == ["nosuchhost.invalid"]


@pytest.mark.parametrize("backend, address", [("dask", "tcp://127.0.0.1:{}"), ("ray", "127.0.0.1:{}"),
                                              ("ray", "ray://127.0.0.1:{}")])
@pytest.mark.parametrize("reply", [None, b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n"])
def test_scheduler_address_of_another_server_is_refused(listening_server, backend, address, reply):
    """Dask waited forever on a silent server and read an HTTP reply as a 3 EiB frame ('out of memory')."""
    import time

    import distributed.comm  # noqa: F401 - imported before the clock starts

    from fer_classic._distributed import check_scheduler

    port = listening_server(reply)
    start = time.monotonic()
    with pytest.raises(ValueError, match="no (Dask )?answer within 1 s|not Dask|not as a Ray cluster"):
        check_scheduler(backend, address.format(port), timeout=1)
    assert time.monotonic() - start < 1 + 15  # bounded by the timeout (a loaded CI machine: a wide margin)


def test_dask_check_waits_as_long_as_dask_connects(listening_server):
    """A fixed 10 s refused a scheduler that Dask, with its 30 s connect timeout (or a longer one set), reaches."""
    import dask.config

    from fer_classic._distributed import CONNECT_TIMEOUT, _connect_timeout, check_scheduler

    assert _connect_timeout("dask") == 30 and _connect_timeout("ray") == CONNECT_TIMEOUT
    with dask.config.set({"distributed.comm.timeouts.connect": "2 minutes"}):
        assert _connect_timeout("dask") == 120
    port = listening_server(None)
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        # The timeout is printed, not the time left when the Dask answer was awaited ('within 0.998 s').
        with pytest.raises(ValueError, match=f"^--scheduler 'tcp://127.0.0.1:{port}': no Dask answer within 1 s; "):
            check_scheduler("dask", f"tcp://127.0.0.1:{port}")


def test_resolved_addresses_share_the_timeout(monkeypatch):
    """socket.create_connection gave each address (IPv6, then IPv4) the whole timeout."""
    import socket

    from fer_classic._distributed import check_scheduler

    given = []

    class Silent:  # a connect that takes its whole timeout
        def __init__(self, *args):
            self.timeout = None

        def settimeout(self, timeout):
            self.timeout = timeout
            given.append(timeout)

        def connect(self, address):
            import time

            time.sleep(self.timeout)
            raise TimeoutError

        def close(self):
            pass

    address = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.1", 6379))
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [address] * 3)
    monkeypatch.setattr(socket, "socket", Silent)
    with pytest.raises(ValueError, match="no answer within 0.2 s"):
        check_scheduler("ray", "head:6379", timeout=0.2)
    assert sum(given) <= 0.2


def test_ray_answer_read_in_parts_is_accepted(listening_server):
    """recv(9) may return part of the SETTINGS frame's header: the rest is read, not taken for a wrong answer."""
    from fer_classic._distributed import check_scheduler

    settings = bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
    check_scheduler("ray", f"127.0.0.1:{listening_server([settings[:2], settings[2:5], settings[5:]])}")


@pytest.mark.parametrize("value, checked", [("0", True), ("false", True), ("False", True), ("", True),
                                            ("1", False), ("true", False)])
def test_ray_use_tls_is_read_as_a_boolean(listening_server, monkeypatch, value, checked):
    """RAY_USE_TLS=0 turned the gRPC check off (any value did); Ray reads it as 1/true."""
    from fer_classic._distributed import check_scheduler

    monkeypatch.setenv("RAY_USE_TLS", value)
    address = f"127.0.0.1:{listening_server(b'HTTP/1.1 400 Bad Request' + bytes(16))}"
    if checked:
        with pytest.raises(ValueError, match="not as a Ray cluster"):
            check_scheduler("ray", address, timeout=5)
    else:  # TLS: the connection is checked, not the protocol
        check_scheduler("ray", address, timeout=5)


@pytest.mark.parametrize("address, note", [("tcp://127.0.0.1:8786", " (tcp:// is Dask's)"),
                                           ("TLS://127.0.0.1:8786", " (TLS:// is Dask's)"),
                                           ("no-such-scheme://127.0.0.1:8786", "")])
def test_ray_address_with_dask_scheme_is_refused(address, note):
    import re

    from fer_classic._distributed import check_scheduler

    with pytest.raises(ValueError) as caught:  # was an 'unexpected' error from Ray
        check_scheduler("ray", address)
    assert str(caught.value) == (f"--scheduler {address!r}: Ray addresses are auto, HOST:6379 or "
                                 f"ray://HOST:10001{note}.")
    assert re.search("Dask", str(caught.value)) is None or note


def test_scheduler_address_must_be_a_dask_scheduler():
    import time

    from dask.distributed import LocalCluster

    from fer_classic._distributed import _dask_identity, check_scheduler

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                      dashboard_address=":0") as local:
        check_scheduler("dask", local.scheduler_address)  # a scheduler passes
        # Asked for no worker's identity: the scheduler of a big cluster sent every one of them.
        info = _dask_identity(local.scheduler_address, time.monotonic() + 30)
        assert info["type"] == "Scheduler"
        if "n_workers" in inspect.signature(local.scheduler.identity).parameters:  # newer distributed (2025)
            assert info["n_workers"] == 1 and info["workers"] == {}
        worker = next(iter(local.scheduler_info["workers"]))
        with pytest.raises(ValueError, match=f"^--scheduler '{worker}': a Dask Worker answers there; give"):
            check_scheduler("dask", worker)


def test_a_scheduler_subclass_is_a_scheduler():
    """type(self).__name__ of a Scheduler subclass (a gateway's, a custom one) was refused as not a scheduler."""
    from dask.distributed import Scheduler, SpecCluster

    from fer_classic._distributed import check_scheduler

    class GatewayScheduler(Scheduler):
        pass

    spec = {"cls": GatewayScheduler, "options": {"protocol": "tcp", "dashboard_address": ":0"}}
    with SpecCluster(scheduler=spec, workers={}) as cluster:
        check_scheduler("dask", cluster.scheduler_address)


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
    """RAY_ADDRESS=127.0.0.1:1 made ray.init retry for minutes; it is checked by check_scheduler itself, which
    fit and search call before the images are read (ray_session came after them)."""
    import sys
    import types

    from fer_classic._distributed import check_scheduler, ray_session

    fake = types.SimpleNamespace(is_initialized=lambda: False,
                                 init=lambda **kw: pytest.fail("ray.init reached"), shutdown=lambda: None)
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    message = ("^RAY_ADDRESS \\(environment\\) '127.0.0.1:1': cannot connect \\(.*\\); set it to the address of a "
               "running Ray cluster \\(auto, HOST:6379, ray://HOST:10001\\), or unset it for a local one.$")
    with pytest.raises(ValueError, match=message) as caught:
        check_scheduler("ray", None)
    assert "leave the option out" not in str(caught.value)
    with pytest.raises(ValueError, match=message):
        with ray_session(None):
            pass
    # What auto finds depends on this machine (a Ray session an earlier test left): not this test's concern.
    monkeypatch.setattr("fer_classic._distributed._ray_auto", lambda scheduler, option: None)
    check_scheduler("ray", "auto")  # an address given: RAY_ADDRESS is not what ray.init connects to
    check_scheduler("dask", None)
    monkeypatch.setenv("RAY_ADDRESS", "")  # set but empty: ray.init starts a local instance
    check_scheduler("ray", None)


def test_cli_empty_feature_store_is_refused(folder_dataset, tmp_path, monkeypatch):
    """--feature-store '' (an unset variable) put a feature store in the current folder, unasked."""
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    result = CliRunner().invoke(main, ["fit", "--data", str(folder_dataset), "--clf", "ridge", "--feature-store", "",
                                       "--out", str(tmp_path / "m.joblib")])
    assert result.exit_code == 2 and "Invalid value for '--feature-store': is empty" in result.output
    assert list(here.iterdir()) == []


@pytest.mark.parametrize("error", ["cancelled", "killed"])
def test_a_lost_dask_worker_is_a_one_line_worker_error(error):
    from concurrent.futures import CancelledError
    from types import SimpleNamespace

    import distributed.client
    from distributed import KilledWorker

    from fer_classic._distributed import _DaskTasks
    from fer_classic.exceptions import WorkerError

    # distributed < 2024.7 raised a plain CancelledError (FutureCancelledError is one).
    FutureCancelledError = getattr(distributed.client, "FutureCancelledError", lambda key, reason: CancelledError(key))

    # What a nanny's restart of a killed worker gives (was "unexpected FutureCancelledError ... a bug").
    raised = (FutureCancelledError("_summary-1", "already forgotten") if error == "cancelled"
              else KilledWorker("_extract-1", SimpleNamespace(address="tcp://10.0.0.2:40000"), 3))

    class Client:
        def gather(self, futures):
            raise raised

    with pytest.raises(WorkerError, match=r"a Dask worker failed \(\w+\): .*check the cluster's memory and logs, "
                                          r"or use smaller --chunk-size"):
        _DaskTasks(Client()).gather([])


@pytest.mark.parametrize("address, match", [
    ("inproc://foo", r"no Dask scheduler of this process listens there \(inproc:// addresses are in-process only\)"),
    ("bogus://x:1", "'bogus' is not a Dask address scheme"),  # was Dask's raw error, "a bug in fer-classic"
    (" tcp://127.0.0.1:1", "has spaces around the address"),
])
def test_dask_scheduler_of_an_unusable_scheme_is_refused_up_front(address, match):
    from fer_classic._distributed import check_scheduler

    with pytest.raises(ValueError, match=rf"--scheduler .*: {match}; give tcp://HOST:8786"):
        check_scheduler("dask", address)


def test_dask_inproc_scheduler_of_this_process_is_accepted(cluster):
    from fer_classic._distributed import check_scheduler

    check_scheduler("dask", cluster.scheduler_address)  # LocalCluster(processes=False): inproc://


def test_ucx_without_its_package_is_refused(monkeypatch):
    import importlib.util

    from fer_classic._distributed import check_scheduler

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(ValueError, match=r"--scheduler 'ucx://x:1': ucx:// needs UCX for Dask"):
        check_scheduler("dask", "ucx://x:1")


def test_ray_address_without_port_is_refused_up_front():
    from fer_classic._distributed import check_scheduler

    with pytest.raises(ValueError, match=r"--scheduler 'foo': has no port; Ray addresses are auto, HOST:6379"):
        check_scheduler("ray", "foo")  # was Ray's "Invalid address format: foo" at ray.init


def test_ray_auto_without_a_running_cluster_names_the_option(monkeypatch):
    pytest.importorskip("ray")
    import ray._private.services as services

    from fer_classic._distributed import check_scheduler

    def none_running(address, *args, **kwargs):
        raise ConnectionError("Could not find any running Ray instance. Please specify ... `--address` flag")

    monkeypatch.setattr(services, "canonicalize_bootstrap_address", none_running)
    with pytest.raises(ValueError, match=r"--scheduler 'auto': no running Ray cluster on this machine"):
        check_scheduler("ray", "auto")


def test_a_dask_scheduler_without_workers_is_named(monkeypatch):
    from fer_classic._distributed import _wait_for_workers

    class Client:
        def wait_for_workers(self, n, timeout):
            raise TimeoutError(f"Only 0/{n} workers arrived after {timeout}")

    monkeypatch.setattr("fer_classic._distributed._connect_timeout", lambda backend: 0.5)
    with pytest.raises(ValueError, match=r"--scheduler 'tcp://h:8786': the Dask scheduler there has no workers "
                                         r"\(none joined within 0.5 s\); start some \(dask worker tcp://h:8786\)"):
        _wait_for_workers(Client(), "tcp://h:8786")


def test_dask_predict_never_writes_the_timeline_over_the_detectors_model_file(fitted_model, tmp_path, monkeypatch):
    import cv2

    from fer_classic import _distributed
    from fer_classic.exceptions import OutputPathError

    def no_workers(*args, **kwargs):
        raise AssertionError("workers were started before the outputs were checked")

    monkeypatch.setattr(_distributed, "_workers", no_workers)
    cascade = tmp_path / "cascade.xml"
    shutil.copyfile(f"{cv2.data.haarcascades}/haarcascade_frontalface_alt2.xml", cascade)
    with pytest.raises(OutputPathError, match=r"--timeline .*cascade\.xml is an input of this command \(the Haar "
                                              r"cascade .*cascade\.xml\)"):
        _distributed.predict_paths_chunked(fitted_model, [tmp_path / "clip.avi"], timeline=cascade,
                                           cropper_params={"detector_model": str(cascade)})


def test_the_local_dask_cluster_does_not_warn_of_another_dask_on_port_8787():
    import socket
    import warnings

    from fer_classic._distributed import dask_client

    with socket.socket() as held:  # as the user's own Dask holds it (if something else already does: the same)
        try:
            held.bind(("", 8787))
            held.listen()
        except OSError:
            pass
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with dask_client(None) as client:
                port = int(client.dashboard_link.rsplit(":", 1)[1].split("/")[0])
                with socket.create_connection(("127.0.0.1", port), timeout=5):  # served on this machine
                    pass
                outside = _reaches(_outward_address(), port)
    assert not [w for w in caught if "8787" in str(w.message)]
    assert outside in (False, None)  # not on the machine's other interfaces (None: it has no other address)


def _outward_address() -> str | None:
    """This machine's address on its route outwards (a UDP socket's connect sends nothing); None if it has none."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
        except OSError:
            return None
        return probe.getsockname()[0]


def _reaches(host: str | None, port: int) -> bool | None:
    """Whether ``host:port`` accepts a connection; None when there is no host or it is a loopback address."""
    import socket

    if host is None or host.startswith("127."):
        return None
    try:
        with socket.create_connection((host, port), timeout=5):
            return True
    except OSError:
        return False
