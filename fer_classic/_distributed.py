"""Fit and score from image paths in chunks: on Dask or Ray workers, or on this machine out of core.

``fit_model(..., backend="dask")`` (or ``"ray"``) and ``fit_model(...,
feature_store=DIR)`` come here. The client lists the files (no image is
opened), then every chunk of paths is decoded and turned into features where
it is processed: on a Dask or Ray worker (the features stay there, spilled to
disk by Dask beyond its memory target, by Ray beyond its object store) or
chunk by chunk into a memory-mapped
:class:`~fer_classic.features._store.FeatureStore`. Dask and Ray run the same
per-chunk functions through one small adapter each (:class:`_DaskTasks`,
:class:`_RayTasks`). The scaler's moments and
:class:`~fer_classic.estimators.LandmarkRidgeClassifier`'s sums are taken
per chunk and added up (for ``--clf ridge``, ``X' W X``, ``X' W Y`` and the
weighted means); the client holds one chunk or one ``m x m`` (``d x d``)
matrix at a time and solves once. The fitted pipeline is the same object as a
local fit (same steps, same attributes), so saving, ``evaluate`` and
``predict`` do not know how it was fitted.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import functools
import logging
import os
import signal
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.base import clone

from . import _resources
from ._optional import import_optional
from ._training import Log, quiet, timed
from .data import FaceDataset
from .exceptions import DatasetError, WorkerError

__all__ = ["BACKENDS", "CONNECT_TIMEOUT", "ImageList", "check_backend", "check_chunk_size", "check_chunked",
           "check_scheduler", "dask_client", "evaluate_chunked", "fit_chunked", "list_images", "open_feature_store",
           "predict_paths_chunked", "ray_session"]

#: ``fit --backend``: ``local`` in memory (or out of core with ``--feature-store``), ``dask`` or ``ray`` on workers.
BACKENDS = ("local", "dask", "ray")
#: The backends that run on workers, and the module each needs.
_ENGINES = {"dask": "dask.distributed", "ray": "ray"}
#: Features extractors that learn nothing in ``fit`` (a chunk's features do not depend on the others).
_STATELESS_FEATURES = {"pixels", "hog", "lbp", "gabor"}


@dataclass(frozen=True)
class ImageList:
    """Image files with labels, listed without being opened."""

    paths: np.ndarray
    labels: np.ndarray
    splits: np.ndarray
    usages: np.ndarray
    name: str
    #: Each file's label folder: a folder none of whose files decodes is refused, as a local load refuses it.
    folders: np.ndarray

    def __len__(self) -> int:
        return len(self.paths)

    def select(self, split: str) -> ImageList:
        """The files of one split (``train``/``test``/``val``) or FER2013 usage."""
        from .data._dataset import no_split_error, split_mask

        mask = split_mask(self.splits, self.usages, split)
        if not mask.any():
            raise no_split_error(self.name, self.splits, self.usages, split)
        return ImageList(self.paths[mask], self.labels[mask], self.splits[mask], self.usages[mask], self.name,
                         self.folders[mask])

    def chunks(self, size: int) -> list[slice]:
        """Row ranges of ``size`` files."""
        return [slice(i, min(i + size, len(self))) for i in range(0, len(self), size)]


def list_images(data, label_map: Mapping[str, str] | None = None) -> ImageList:
    """List a class-folder tree (``ROOT/<split>/<label>/*.jpg``) as :func:`fer_classic.load_dataset` reads it.

    Raises
    ------
    DatasetError
        If ``data`` is not a class-folder tree: the chunked fit reads files
        by path (the option is named).
    """
    from .data._folder import file_usages, scan_folder
    from .data._load import is_generated, recognise_format

    if is_generated(data):  # the generated faces are made in memory, not files
        raise DatasetError("--backend dask/ray and --feature-store read class-folder trees by path "
                           "(ROOT/<split>/<label>/*.jpg): give one as --data (the generated faces are no files).")
    if not isinstance(data, (str, os.PathLike)) or not Path(data).is_dir() or recognise_format(data) != "folder":
        raise DatasetError(f"--backend dask/ray and --feature-store read class-folder trees by path "
                           f"(ROOT/<split>/<label>/*.jpg); --data {data!r} is not one.")
    groups, paths, labels, splits, folder_of = scan_folder(Path(data), label_map)
    usages = file_usages(groups, paths, folder_of)  # as load_folder: the usage folder's, else the name's prefix
    as_array = lambda values: np.asarray(values, dtype=object)  # noqa: E731
    # Absolute: a remote worker resolved a relative path against its own working folder. The label folders
    # too, or a file's path would never lie inside its (relative) folder when one is refused.
    return ImageList(as_array([os.path.abspath(p) for p in paths]), as_array(labels), as_array(splits),
                     as_array(usages), str(data), as_array([os.path.abspath(groups[i][1]) for i in folder_of]))


def check_chunk_size(chunk_size) -> int:
    """``chunk_size`` (``--chunk-size``) as an int, or a ValueError: a positive integer (numpy's too)."""
    import numbers

    if not isinstance(chunk_size, numbers.Integral) or isinstance(chunk_size, (bool, np.bool_)) or chunk_size < 1:
        raise ValueError(f"chunk_size (--chunk-size) must be a positive integer; got {chunk_size!r}.")
    return int(chunk_size)


def check_chunked(pipeline, *, features: str, clf: str, options: Mapping, data) -> None:
    """Raise before any work when the chunked fit cannot fit ``pipeline``: it names the option.

    The chunked fit covers stateless features (pixels, hog, lbp, gabor and
    their combinations, with image preprocessing), one StandardScaler and the
    classifiers whose sums add up over row blocks: the approximate SVM
    (``--clf svm --param backend=approx``) and the ridge classifier
    (``--clf ridge``, one alpha, not ``positive``).
    """
    from sklearn.linear_model import RidgeClassifier

    from .estimators import SVMClassifier

    names = set(features.lower().split("+"))
    if not names <= _STATELESS_FEATURES:
        raise ValueError(f"--features {features!r}: the chunked fit (--backend dask/ray, --feature-store) takes "
                         f"hand-crafted features computed image by image ({', '.join(sorted(_STATELESS_FEATURES))}); "
                         f"{', '.join(sorted(names - _STATELESS_FEATURES))} cannot be extracted chunk by chunk.")
    for option in ("flip", "mirror_kernel", "block_scaling", "sampler"):
        if options.get(option):
            raise ValueError(f"--{option.replace('_', '-')} is not available with --backend dask/ray or "
                             "--feature-store.")
    inner = getattr(pipeline.steps[-1][1], "estimator", None)
    approx_svm = (isinstance(inner, SVMClassifier) and inner.backend == "approx"
                  and not inner.probability)
    # positive=True is an iterative constrained fit, and one alpha per class a solve per class.
    ridge = isinstance(inner, RidgeClassifier) and np.ndim(inner.alpha) == 0 and not inner.positive
    if not (approx_svm or ridge):
        raise ValueError(f"--clf {clf!r}: the chunked fit (--backend dask/ray, --feature-store) "
                         "fits the classifiers whose sums add up over row blocks: use --clf svm "
                         "--param backend=approx (and no probability=true) or --clf ridge (one "
                         "alpha, no positive=true).")
    if ridge:
        # What RidgeClassifier.fit checks beyond its parameter constraints (a solver that needs
        # positive=True, class_weight keys), on two rows now rather than after every chunk's features.
        probe = clone(inner)
        if isinstance(probe.class_weight, dict):  # keyed by label: checked once the files are listed
            probe.set_params(class_weight=None)
        try:
            # No warnings filter (process-wide: other threads' warnings): two distinct rows and the solver's
            # default iterations, once the given ones are checked, leave it nothing to warn of (a ConvergenceWarning
            # of max_iter=1, which the chunked fit does not use). Two zero rows made solver='sag' divide by zero.
            probe._validate_params()
            probe.set_params(max_iter=None)
            probe.fit(np.array([[0.0], [1.0]]), np.array([0, 1]))
        except ValueError as exc:
            raise ValueError(f"--clf ridge: {exc}") from exc
    list_images(data)  # a folder tree, checked before anything is read


def check_backend(backend: str, scheduler: str | None, *, local: str = "local") -> None:
    """Raise before any work for an unknown ``backend``, an address without workers, or a missing engine.

    Parameters
    ----------
    backend : str
        The local backend's name (``local``), ``"dask"`` or ``"ray"``.
    scheduler : str or None
        The ``--scheduler`` address (only its presence is checked here; see
        :func:`check_scheduler`).
    local : str, default="local"
        The name of the backend that runs on this machine: ``search`` runs
        joblib's ``"loky"``.

    Raises
    ------
    ValueError
        ``backend`` is not ``local``, ``dask`` or ``ray``, or ``scheduler``
        comes with ``local``.
    MissingDependencyError
        Dask or Ray is not installed (the message names the extra).
    """
    names = (local, *_ENGINES)
    if backend not in names:
        raise ValueError(f"backend (--backend) must be one of {', '.join(names)}; got {backend!r}.")
    if backend in _ENGINES:
        import_optional(_ENGINES[backend], f"--backend {backend}")
    elif scheduler is not None:
        raise ValueError("--scheduler is the Dask scheduler or Ray address of --backend dask or ray; "
                         "give --backend dask or ray with it.")


#: Seconds a Ray address may take to accept a connection and answer (a refused port fails at once); a Dask
#: address gets Dask's own connect timeout (``distributed.comm.timeouts.connect``), this only where that
#: setting is missing. Ray retried an unreachable port for minutes; Dask retried a refused port for its
#: connect timeout and waited forever on a server that does not answer.
CONNECT_TIMEOUT = 10.0
#: HTTP/2's client connection preface and an empty SETTINGS frame: what a gRPC client (Ray) sends first.
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
#: The schemes of Dask addresses (named when one is given as a Ray address).
_DASK_SCHEMES = ("tcp", "tls", "ws", "wss", "inproc", "ucx")


def _connect_timeout(backend: str) -> float:
    """Seconds :func:`check_scheduler` waits by default: Dask's own connect timeout for Dask (a longer one
    set for a slow network would otherwise be cut short), :data:`CONNECT_TIMEOUT` for Ray or without it."""
    if backend == "dask":
        try:
            import dask.config
            from dask.utils import parse_timedelta
        except ImportError:
            return CONNECT_TIMEOUT
        value = dask.config.get("distributed.comm.timeouts.connect", None)
        if value is not None:
            return float(parse_timedelta(value, default="seconds"))
    return CONNECT_TIMEOUT


def _host_port(backend: str, scheduler: str, option: str) -> tuple[str, int] | None:
    """``(host, port)`` of a TCP address, None for what only Dask or Ray can resolve (``auto``, ``inproc://``)."""
    if backend == "dask":
        scheme, sep, location = scheduler.partition("://")
        if not sep:
            scheme, location = "tcp", scheduler  # Dask's default scheme
        if scheme not in ("tcp", "tls", "ws", "wss"):
            _check_other_dask_scheme(scheduler, scheme, location, option)
            return None
    else:
        scheme, sep, _ = scheduler.partition("://")
        if sep and scheme != "ray":
            import importlib.util

            # Ray imports a module of the scheme's name (anyscale://); tcp:// ended in an 'unexpected' error.
            if not scheme.isidentifier() or importlib.util.find_spec(scheme) is None:
                dask_note = f" ({scheme}:// is Dask's)" if scheme.lower() in _DASK_SCHEMES else ""
                raise ValueError(f"{option} {scheduler!r}: Ray addresses are auto, HOST:6379 or "
                                 f"ray://HOST:10001{dask_note}.")
            return None
        location = scheduler.removeprefix("ray://")
        if location in ("auto", "local"):
            return _ray_auto(scheduler, option) if location == "auto" else None
    host, sep, port = location.rpartition(":")
    if not sep:
        if backend == "dask":
            raise ValueError(f"{option} {scheduler!r}: has no port; give tcp://HOST:8786.")
        raise ValueError(f"{option} {scheduler!r}: has no port; Ray addresses are auto, HOST:6379 or "
                         "ray://HOST:10001.")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{option} {scheduler!r}: the port must be a number from 1 to 65535; got {port!r}.")
    return host.strip("[]") or "localhost", int(port)


def _check_other_dask_scheme(scheduler: str, scheme: str, location: str, option: str) -> None:
    """Refuse a Dask address of a scheme this check cannot connect to, unless Dask can use it here.

    ``inproc://`` is a scheduler in this very process (``LocalCluster(processes=False)``); ``ucx://``
    needs UCX's package. Dask refused anything else only once the test split was decoded, in its own
    words (an unknown scheme as "a bug in fer-classic").
    """
    import importlib.util

    forms = "tcp://HOST:8786 (or tls://, ws://, wss://; inproc:// for a scheduler in this process)"
    if scheme.strip() != scheme or location.strip() != location:
        raise ValueError(f"{option} {scheduler!r}: has spaces around the address; give {forms}.")
    if scheme == "inproc":
        from distributed.comm.inproc import global_manager

        try:
            found = global_manager.get_listener_for(location) is not None
        except ValueError:  # another process's inproc address
            found = False
        if not found:
            raise ValueError(f"{option} {scheduler!r}: no Dask scheduler of this process listens there (inproc:// "
                             f"addresses are in-process only); give {forms}.")
    elif scheme == "ucx":
        if not any(importlib.util.find_spec(name) for name in ("distributed_ucxx", "ucxx", "ucp")):
            raise ValueError(f"{option} {scheduler!r}: ucx:// needs UCX for Dask (distributed-ucxx), which is not "
                             f"installed; install it or give {forms}.")
    else:
        raise ValueError(f"{option} {scheduler!r}: {scheme!r} is not a Dask address scheme; give {forms}.")


def _ray_auto(scheduler: str, option: str) -> tuple[str, int] | None:
    """``(host, port)`` of the Ray cluster ``auto`` finds on this machine; a ValueError naming ``option`` if none.

    Ray's own error came at ``ray.init``, after the test split was decoded, and named Ray's ``--address``.
    """
    try:
        from ray._private.services import canonicalize_bootstrap_address
    except ImportError:  # a Ray without it: ray_session translates its error then
        return None
    try:
        found = canonicalize_bootstrap_address(scheduler)
    except ConnectionError:
        raise ValueError(f"{option} {scheduler!r}: no running Ray cluster on this machine (auto connects to one "
                         "started with 'ray start --head'); start one, give HOST:6379 or ray://HOST:10001, or "
                         f"leave {option} out for a local Ray instance.") from None
    except Exception:  # noqa: BLE001 - Ray's own parsing of what it found: ray.init reports it
        return None
    host, sep, port = (found or "").rpartition(":")
    return (host.strip("[]") or "localhost", int(port)) if sep and port.isdigit() else None


def _connect(address: tuple[str, int], deadline: float):
    """A socket connected to the first address ``address`` resolves to that accepts before ``deadline``.

    ``socket.create_connection`` gives each resolved address (IPv6, then
    IPv4) the whole timeout; here they share it. The name's resolution is not
    bounded (``getaddrinfo`` takes no timeout).
    """
    import socket
    import time

    error: OSError | None = None
    for family, kind, proto, _, sockaddr in socket.getaddrinfo(*address, 0, socket.SOCK_STREAM):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(left)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error or OSError(f"{address[0]} resolves to no address")


def _ray_tls() -> bool:
    """Whether Ray speaks TLS (``RAY_USE_TLS``, read as Ray reads it: ``1`` or ``true``)."""
    return os.environ.get("RAY_USE_TLS", "0").strip().lower() in ("1", "true")


def check_scheduler(backend: str, scheduler: str | None, *, timeout: float | None = None,
                    option: str = "--scheduler") -> None:
    """Raise when ``scheduler`` cannot be the Dask scheduler or Ray cluster asked for, before any work.

    Checked before any image is read: the address's form and port, that a
    TCP connection is accepted, and that what answers speaks Dask's protocol
    (a scheduler, not a worker) or gRPC (Ray). Dask's and Ray's own
    connection attempts retry a refused port for 30 s to minutes, and wait
    without end on a server that never answers. With ``--backend ray`` and no
    address, ``RAY_ADDRESS`` (what ``ray.init`` connects to then) is checked
    the same way.

    Parameters
    ----------
    backend : {"local", "dask", "ray"}
    scheduler : str or None
        The ``--scheduler`` address; None: a local cluster (or, for Ray,
        ``RAY_ADDRESS`` when it is set).
    timeout : float, optional
        Seconds for the connection and the answer together. Default: Dask's
        connect timeout (``distributed.comm.timeouts.connect``, 30 s unless
        configured) for Dask, :data:`CONNECT_TIMEOUT` for Ray. Resolving the
        host name is not bounded by it (the system resolver takes no timeout).
    option : str, default="--scheduler"
        Where the address came from, for the messages.

    Raises
    ------
    ValueError
        The address is empty, malformed, refused, unreachable within
        ``timeout``, or answered by something else (the option named).
    """
    if backend not in _ENGINES:
        return
    if scheduler is None and backend == "ray" and os.environ.get("RAY_ADDRESS"):
        # What ray.init connects to without an address: checked here, before the images are read.
        scheduler, option = os.environ["RAY_ADDRESS"], "RAY_ADDRESS (environment)"
    if scheduler is None:
        return
    what = ("Dask scheduler (tcp://HOST:8786)" if backend == "dask"
            else "Ray cluster (auto, HOST:6379, ray://HOST:10001)")
    from_option = option.startswith("--")
    fix = (f"give the address of a running {what}" if from_option
           else f"set it to the address of a running {what}, or unset it for a local one")
    if not scheduler.strip():
        raise ValueError(f"{option} is empty; {fix}" + (", or leave the option out for a local one."
                                                        if from_option else "."))
    address = _host_port(backend, scheduler, option)
    if address is None:
        return
    import socket
    import time

    timeout = _connect_timeout(backend) if timeout is None else float(timeout)
    answer = f"answer within {timeout:g} s; {fix}."  # the timeout given, not the time left
    deadline = time.monotonic() + timeout
    try:
        with _connect(address, deadline) as sock:
            if backend == "ray" and not _ray_tls():
                # A gRPC server (Ray's GCS, Ray Client) sends its SETTINGS frame (type 4) first.
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                sock.sendall(_HTTP2_PREFACE)
                head = b""
                while len(head) < 9:  # a frame header; recv may return part of it
                    sock.settimeout(max(deadline - time.monotonic(), 0.001))
                    part = sock.recv(9 - len(head))
                    if not part:  # closed by the server
                        break
                    head += part
                if len(head) < 9 or head[3] != 4:
                    raise ValueError(f"{option} {scheduler!r}: {address[0]}:{address[1]} answers, but not as a "
                                     f"Ray cluster; {fix}.")
    except (TimeoutError, socket.timeout):
        raise ValueError(f"{option} {scheduler!r}: no {answer}") from None
    except OSError as exc:  # refused, unknown host, unreachable network
        raise ValueError(f"{option} {scheduler!r}: cannot connect ({exc.strerror or exc}); {fix}.") from None
    if backend == "dask" and (scheduler.startswith("tcp://") or "://" not in scheduler):  # tls, ws: connected only
        try:
            info = _dask_identity(scheduler, deadline)
        except TimeoutError:
            raise ValueError(f"{option} {scheduler!r}: no Dask {answer}") from None
        kind = info.get("type") if isinstance(info, dict) else None
        # A Scheduler subclass (a gateway's, a custom one) is a scheduler too.
        if not (isinstance(kind, str) and kind.endswith("Scheduler")):
            found = f"a Dask {kind}" if isinstance(kind, str) else "something that is not Dask"
            raise ValueError(f"{option} {scheduler!r}: {found} answers there; {fix}.")


def _dask_identity(scheduler: str, deadline: float) -> dict | None:
    """What the server at ``scheduler`` says it is (Dask's ``identity`` call) before ``deadline``; None: not Dask.

    Raises
    ------
    TimeoutError
        No answer before ``deadline``.
    """
    import asyncio
    import time
    from concurrent.futures import ThreadPoolExecutor

    from distributed.comm import connect

    timeout = max(deadline - time.monotonic(), 0.001)

    async def identity():
        comm = await connect(scheduler, timeout=timeout)
        try:
            # n_workers=0: a scheduler's identity lists every worker's otherwise (thousands on a big cluster).
            await comm.write({"op": "identity", "n_workers": 0, "reply": True})
            info = await comm.read()
            if isinstance(info, dict) and "type" not in info:  # a worker's identity takes no n_workers: ask plainly
                await comm.write({"op": "identity", "reply": True})
                info = await comm.read()
            return info
        finally:
            comm.abort()

    try:
        # A thread of its own: asyncio.run cannot run inside a caller's event loop (Jupyter).
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, asyncio.wait_for(identity(), timeout)).result()
    except TimeoutError:  # asyncio's
        raise
    except Exception:  # noqa: BLE001 - another protocol (Dask read an HTTP reply as a frame length: MemoryError)
        if time.monotonic() >= deadline:  # Dask's connect gave up (an OSError)
            raise TimeoutError from None
        return None


@contextlib.contextmanager
def dask_client(scheduler: str | None) -> Iterator:
    """A ``dask.distributed.Client`` of ``scheduler`` (an address), or of a local in-process cluster, closed after.

    The same connection ``search --backend dask`` makes; ``scheduler`` is
    checked first (:func:`check_scheduler`).
    """
    Client = import_optional("dask.distributed", "--backend dask").Client  # noqa: N806
    check_scheduler("dask", scheduler)
    # The local cluster's web server on a free port of this machine only: Dask's fixed 8787 warned "Port 8787 is
    # already in use" whenever another Dask (the user's own, a second command) held it, and it listened on every
    # interface; fer-classic shows no dashboard link.
    client = Client(scheduler) if scheduler else Client(processes=False, dashboard_address="127.0.0.1:0")
    try:
        if scheduler:
            _wait_for_workers(client, scheduler)
        yield client
    finally:
        client.close()


def _wait_for_workers(client, scheduler: str) -> None:
    """Return once the scheduler has a worker; a ValueError naming --scheduler if none joins within Dask's connect
    timeout (an adaptive cluster starts some on demand). Dask's own "No valid workers found" came after ~45 s,
    from the first scatter, without naming the address."""
    import asyncio

    timeout = _connect_timeout("dask")
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, asyncio.TimeoutError):  # one class from Python 3.11
        raise ValueError(f"--scheduler {scheduler!r}: the Dask scheduler there has no workers (none joined within "
                         f"{timeout:g} s); start some (dask worker {scheduler}) or give the address of a scheduler "
                         "with workers.") from None


@contextlib.contextmanager
def ray_session(address: str | None) -> Iterator:
    """The ``ray`` module, connected to ``address`` or to a local Ray instance on this machine's CPUs.

    Parameters
    ----------
    address : str or None
        What ``ray.init`` takes: ``auto`` (the cluster this machine is a node
        of), ``HOST:6379``, or ``ray://HOST:10001`` (Ray Client). None (and no
        ``RAY_ADDRESS`` in the environment) starts a local instance with one
        worker per CPU and no dashboard.

    Notes
    -----
    Ray logs only errors and the workers' output is not forwarded: a fit
    prints what a local fit prints. A session this process already holds
    (the caller's ``ray.init``, or ``search --backend ray``'s) is used as it
    is and left running; only one started here is shut down after.
    SIGTERM's handler, which ``ray.init`` replaces, is kept where one was set
    (the command line's: see :func:`_sigterm_kept`).
    """
    ray = import_optional("ray", "--backend ray")
    if ray.is_initialized():
        yield ray
        return
    check_scheduler("ray", address)  # None: RAY_ADDRESS, what ray.init connects to then, is checked
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address or os.environ.get("RAY_ADDRESS"):
        start = functools.partial(ray.init, address=address, **quiet)  # a running cluster: its resources are its own
    else:
        # The CPUs this process may use (affinity, as a container or a CI quota sets it).
        start = functools.partial(ray.init, num_cpus=_resources.usable_cpus(), include_dashboard=False, **quiet)
    with _sigterm_kept(start):
        try:
            yield ray
        finally:
            ray.shutdown()


@contextlib.contextmanager
def _sigterm_kept(start: Callable[[], object]) -> Iterator[None]:
    """``start()``, a library's start that installs its own SIGTERM handler, keeping the one set before.

    ``ray.init`` installs ``sys.exit(15)`` over any handler: under the
    command line (whose handler unwinds with exit 143, says "Terminated
    (SIGTERM).", and lets a second SIGTERM kill), SIGTERM exited 15 without
    the message and a second one raised again. A handler set before (other
    than the default action) is put back after ``start()``; after the block,
    the one from before is put back where the library's is still there (not
    where ours ran meanwhile: it left SIGTERM to kill).
    """
    before = signal.getsignal(signal.SIGTERM)
    start()
    now = signal.getsignal(signal.SIGTERM)
    if before not in (None, signal.SIG_DFL) and now is not before and _set_sigterm(before):
        now = before
    try:
        yield
    finally:
        # None: a handler set outside Python, which cannot be put back.
        if before is not None and now is not before and signal.getsignal(signal.SIGTERM) is now:
            _set_sigterm(before)


def _set_sigterm(handler) -> bool:
    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (an embedding program): signals are left to it
        return False
    return True


def _worker_failed(engine: str, exc: BaseException) -> WorkerError:
    """The one-line error for a worker lost mid-run (killed, out of memory, restarted), Dask's or Ray's."""
    first = (str(exc).splitlines() or [""])[0]
    return WorkerError(f"a {engine} worker failed ({type(exc).__name__}): {first}; "
                       "check the cluster's memory and logs, or use smaller --chunk-size.")


class _DaskTasks:
    """Tasks on a ``dask.distributed`` client (futures); :class:`_RayTasks` is the same on Ray."""

    def __init__(self, client):
        self.client = client

    def __str__(self) -> str:
        return f"{len(self.client.scheduler_info()['workers'])} Dask worker(s) ({self.client.scheduler.address})"

    def put(self, value):
        """``value`` sent once to every worker, not once per task that takes it."""
        return self.client.scatter(value, broadcast=True)

    def submit(self, func, *args, **kwargs):
        """``func(*args, **kwargs)`` on a worker; the futures among ``args`` are passed as their values."""
        return self.client.submit(func, *args, pure=False, **kwargs)

    def gather(self, futures: list) -> list:
        import concurrent.futures

        from distributed import KilledWorker

        try:
            return self.client.gather(futures)
        except (KilledWorker, concurrent.futures.CancelledError) as exc:
            # A worker killed (out of memory) or restarted by its nanny: the chunks it held are lost, and
            # Dask cancels what depended on them (FutureCancelledError is a CancelledError).
            raise _worker_failed("Dask", exc) from exc

    def release(self, futures: list) -> None:
        self.client.cancel(futures)


class _RayTasks:
    """Tasks on a Ray session (object refs), with :class:`_DaskTasks`'s methods."""

    def __init__(self, ray):
        self.ray, self._remote = ray, {}

    def __str__(self) -> str:
        return f"Ray ({int(self.ray.cluster_resources().get('CPU', 0))} CPU(s))"

    def put(self, value):
        """``value`` once in the object store, resolved once per worker process (see :func:`_local`)."""
        ref = self.ray.put(value)
        return _Shared(ref, ref.hex())

    def submit(self, func, *args, **kwargs):
        if func not in self._remote:  # one remote function each, exported to the workers once
            self._remote[func] = self.ray.remote(func)
        return self._remote[func].remote(*args, **kwargs)

    def gather(self, refs: list) -> list:
        try:
            values = self.ray.get(refs)
        except self.ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, Exception):
                # The task's own error, as Dask raises it (a RayTaskError's text is the worker's traceback).
                raise exc.cause from exc
            raise WorkerError(f"a Ray task failed: {str(exc).splitlines()[0]}") from exc
        except self.ray.exceptions.RayError as exc:  # a worker died, ran out of memory, lost an object
            raise _worker_failed("Ray", exc) from exc
        # Copies: ray.get's arrays are read-only views of the object store, and the solve works in place.
        return copy.deepcopy(values)

    def release(self, refs: list) -> None:
        pass  # Ray frees an object once no ref to it is left


@contextlib.contextmanager
def _workers(backend: str, scheduler: str | None) -> Iterator[_DaskTasks | _RayTasks]:
    """Tasks on the workers of ``backend`` (``dask`` or ``ray``) at ``scheduler``, closed after."""
    if backend == "ray":
        with ray_session(scheduler) as ray:
            yield _RayTasks(ray)
    else:
        with dask_client(scheduler) as client:
            yield _DaskTasks(client)


# ---- work on one chunk (runs on a worker, or here) ------------------------------------------------


@dataclass(frozen=True)
class _Shared:
    """A Ray object ref inside an object, so that Ray does not resolve it anew for every task taking it."""

    ref: object
    key: str


#: What this worker process resolved of :class:`_Shared` values, newest last. Ray deserialises a task's
#: arguments for every task; Dask keeps one scattered copy per worker. Kept here, a compacted SVM
#: rebuilds its support vectors once per process, not once per chunk.
_RESOLVED: collections.OrderedDict[str, object] = collections.OrderedDict()
_RESOLVED_KEEP = 8


def _local(value):
    """``value`` itself, or the object a :class:`_Shared` names (fetched once per process)."""
    if not isinstance(value, _Shared):
        return value
    if value.key not in _RESOLVED:
        import ray

        _RESOLVED[value.key] = ray.get(value.ref)
        while len(_RESOLVED) > _RESOLVED_KEEP:
            _RESOLVED.popitem(last=False)
    _RESOLVED.move_to_end(value.key)
    return _RESOLVED[value.key]


@dataclass
class _Chunk:
    """Features of one chunk of files and what the client needs to know of it."""

    X: np.ndarray
    kept: np.ndarray  # positions in the chunk of the files that gave features
    skipped: list = field(default_factory=list)
    faces: np.ndarray | None = None  # the decoded uint8 faces: read once, for the training set's fingerprint


def _extract(paths, size, cropper, head) -> _Chunk:
    """Decode ``paths`` (as :func:`fer_classic.load_dataset` does) and run the fitted feature ``head``."""
    from .data._images import FaceSource, _read_part

    cropper, head = _local(cropper), _local(head)

    done, faces, skipped, _ = _read_part(list(paths), FaceSource(tuple(size), cropper), range(len(paths)))
    # No face decoded: zero rows of the head's width (of a blank face), so that the chunk's
    # features stack, and are stored, with the others'.
    rows = faces if len(faces) else np.zeros((1, *faces.shape[1:]), faces.dtype)
    X = head.transform(rows.reshape(len(rows), -1))[: len(faces)]
    return _Chunk(np.asarray(X, dtype=np.float64), done, skipped, np.ascontiguousarray(faces))


def _summary(chunk: _Chunk) -> dict:
    """Everything but the features and faces: kept rows, skipped files, and the columns' moments."""
    X = chunk.X
    mean = X.mean(axis=0) if len(X) else np.zeros(X.shape[1])
    return {"kept": chunk.kept, "skipped": chunk.skipped, "n": len(X), "mean": mean,
            "m2": ((X - mean) ** 2).sum(axis=0)}


def _pixels(chunk: _Chunk) -> bytes:
    """The chunk's decoded faces as bytes, in file order."""
    return chunk.faces.tobytes()


def _take(chunk: _Chunk | np.ndarray, rows: np.ndarray) -> np.ndarray:
    X = chunk.X if isinstance(chunk, _Chunk) else chunk
    return X[rows]


def _sums(chunk: _Chunk | np.ndarray, summed, codes, weights, n_classes, mean, scale, *params):
    """``summed(scaled rows, targets, weights, *params)`` of one chunk.

    ``summed`` is :func:`~fer_classic.estimators._landmark_ridge.landmark_sums`
    or :func:`_ridge_sums`.
    """
    from .estimators._landmark_ridge import ridge_targets

    X = chunk.X if isinstance(chunk, _Chunk) else chunk
    scaled = (X - _local(mean)) / _local(scale)
    return summed(scaled, ridge_targets(codes, n_classes), weights, *map(_local, params))


def _ridge_sums(X: np.ndarray, targets: np.ndarray, weights: np.ndarray):
    """:class:`~fer_classic.estimators.LandmarkSums` of the feature rows ``X`` themselves (float64)."""
    from .estimators._landmark_ridge import row_sums

    return row_sums(lambda rows: np.array(X[rows]), len(X), X.shape[1], targets, weights)


def _add(a, b):
    return a + b


# ---- the engines: the same per-chunk functions, on Dask or Ray workers or over a FeatureStore ------


class _WorkerChunks:
    """Feature chunks held by Dask or Ray workers (futures or object refs of ``tasks``)."""

    def __init__(self, tasks: _DaskTasks | _RayTasks, images: ImageList, size, cropper, head, chunk_size: int):
        self.tasks = tasks
        # One copy of the fitted head and cropper per worker (Ray: per worker process), not one per task.
        head_f = tasks.put(head)
        cropper_f = None if cropper is None else tasks.put(cropper)
        self.futures = [tasks.submit(_extract, images.paths[s], size, cropper_f, head_f)
                        for s in images.chunks(chunk_size)]
        self.n_chunks = len(self.futures)

    def summaries(self) -> list[dict]:
        return self.tasks.gather([self.tasks.submit(_summary, f) for f in self.futures])

    def pixels(self, chunk: int) -> bytes:
        return self.tasks.gather([self.tasks.submit(_pixels, self.futures[chunk])])[0]

    def take(self, rows_per_chunk: list[np.ndarray]) -> list[np.ndarray]:
        wanted = [(f, r) for f, r in zip(self.futures, rows_per_chunk) if len(r)]
        taken = self.tasks.gather([self.tasks.submit(_take, f, r) for f, r in wanted])
        it = iter(taken)
        return [next(it) if len(r) else None for r in rows_per_chunk]

    def sums(self, summed, per_chunk: list[tuple], shared: tuple):
        submit = self.tasks.submit
        shared_f = [self.tasks.put(value) for value in shared]
        # A binary tree of additions on the workers, each submitted right after its two inputs: Dask runs
        # earlier submissions first, Ray a task once its inputs are ready, so partial sums (16 m^2 bytes
        # each, 16 d^2 for ridge) are added as they come instead of piling up; the client receives one
        # m x m (d x d) matrix.
        stack: list[tuple[int, object]] = []
        for future, args in zip(self.futures, per_chunk):
            part, level = submit(_sums, future, summed, *args, *shared_f), 0
            while stack and stack[-1][0] == level:
                part, level = submit(_add, stack.pop()[1], part), level + 1
            stack.append((level, part))
        part = stack.pop()[1]
        while stack:
            part = submit(_add, stack.pop()[1], part)
        return self.tasks.gather([part])[0]

    def release(self) -> None:
        self.tasks.release(self.futures)
        self.futures = []  # Ray: the last refs to the chunks


class _StoreChunks:
    """Feature chunks in a memory-mapped FeatureStore on this machine, computed where missing."""

    def __init__(self, store, images: ImageList, size, cropper, head, log: Log):
        self.store = store
        self.n_chunks = store.n_chunks
        from ._progress import Progress

        # One process at a time fills the store, what another one wrote meanwhile read again; a complete
        # store is only read (its arrays are never written again), without the lock.
        with store.filling(log) if store.missing() else contextlib.nullcontext():
            missing = store.missing()
            if len(missing) < store.n_chunks:
                log(f"feature store {store.folder}: {store.n_chunks - len(missing)} of {store.n_chunks} chunks "
                    "already computed, resuming")
            progress = Progress(len(missing), "feature chunks")
            for chunk in missing:
                start, stop = store.bounds(chunk)
                part = _extract(images.paths[start:stop], size, cropper, head)
                store.write(chunk, part.X, part.kept, part.skipped, part.faces)
                progress.update()
            progress.close()

    def summaries(self) -> list[dict]:
        out = []
        for chunk in range(self.n_chunks):
            info = self.store.info(chunk)
            summary = _summary(_Chunk(self.store.read(chunk), self.store.kept(chunk)))
            out.append({**summary, "skipped": [tuple(s) for s in info["skipped"]]})
        return out

    def pixels(self, chunk: int) -> bytes:
        return self.store.pixels(chunk).tobytes()

    def take(self, rows_per_chunk: list[np.ndarray]) -> list[np.ndarray]:
        return [_take(self.store.read(c), r) if len(r) else None for c, r in enumerate(rows_per_chunk)]

    def sums(self, summed, per_chunk: list[tuple], shared: tuple):
        total = None
        for chunk, args in enumerate(per_chunk):
            part = _sums(self.store.read(chunk), summed, *args, *shared)
            if total is None:
                total = part
            else:
                total += part  # in place: one m x m (d x d) matrix
        return total

    def release(self) -> None:
        pass


# ---- the fit ----------------------------------------------------------------------------------------


class _ChunkedTrainingSet(FaceDataset):
    """The training set as a FaceDataset without its pixels: labels and sources, one zero-stride image.

    What :func:`fer_classic._training.fit_score_save` records of a training
    set (size, class counts, geometry, fingerprint) without holding the
    images; the fingerprint is :meth:`FaceDataset.fingerprint` of the decoded
    images, taken chunk by chunk (see :func:`_fingerprint`).
    """

    def __init__(self, labels, sources, image_shape, name, skipped, digests: tuple[str, str]):
        images = np.broadcast_to(np.zeros((1, *image_shape), dtype=np.uint8), (len(labels), *image_shape))
        n = len(labels)
        empty = np.full(n, "", dtype=object)
        super().__init__(images, labels, np.full(n, "train", dtype=object), empty, sources, name, tuple(skipped))
        object.__setattr__(self, "_digests", digests)

    def fingerprint(self) -> str:
        return self._digests[0]

    def content_fingerprint(self) -> str:
        # Of the decoded faces, not of the placeholder image this set holds.
        return self._digests[1]


def _fingerprint(chunks, labels: np.ndarray, image_shape: tuple) -> tuple[str, str]:
    """``FaceDataset.fingerprint`` and ``content_fingerprint`` of the kept rows, faces fetched a chunk at a time.

    The same bytes in the same order as a local load of the train split hashes
    (shape, pixels, labels), whatever the chunk size: ``evaluate`` of a copy of
    the training data then recognises it, as it does for a local fit, in any order.
    """
    from .data._dataset import content_fingerprint, dataset_fingerprint
    from .data._duplicates import pixel_digests

    digests: list[str] = []

    def faces():
        for chunk in range(chunks.n_chunks):
            pixels = chunks.pixels(chunk)
            digests.extend(pixel_digests(np.frombuffer(pixels, dtype=np.uint8).reshape(-1, *image_shape)))
            yield pixels

    ordered = dataset_fingerprint((len(labels), *image_shape), faces(), labels)
    return ordered, content_fingerprint(digests, labels)


def _scale_index(pipeline) -> int:
    """Where a chunked pipeline's scaler stands: the steps before it extract the features (``check_chunked``)."""
    return [name for name, _ in pipeline.steps].index("scale")


#: Parameters that change how features are computed, not which: left out of a feature store's key.
_RUNTIME_PARAMS = {"n_jobs", "verbose", "memory"}


def _feature_params(estimator) -> dict:
    """``estimator``'s parameters that decide its output (JSON-ready), ``n_jobs`` and the like left out."""
    from sklearn.base import BaseEstimator

    def describe(value):
        # A nested estimator by its class (its own parameters follow as key__param; a Pipeline's steps
        # repr would show their n_jobs), lists item by item, anything else by repr.
        if isinstance(value, BaseEstimator):
            return type(value).__qualname__
        if isinstance(value, (list, tuple)):
            return [describe(item) for item in value]
        return repr(value)

    params = {key: describe(value) for key, value in sorted(estimator.get_params(deep=True).items())
              if key.rsplit("__", 1)[-1] not in _RUNTIME_PARAMS}
    return {"class": type(estimator).__qualname__, "params": params}


def open_feature_store(pipeline, images: ImageList, *, size, cropper, feature_store, chunk_size: int):
    """The :class:`~fer_classic.features._store.FeatureStore` of ``pipeline``'s features of ``images``.

    Keyed by the feature steps' parameters (not ``n_jobs``: another ``--n-jobs``
    resumes the same store), the geometry, the cropper and the files'
    fingerprint (a ``stat`` of every file). Opening it checks an existing store (its
    chunk size, its files), so ``fit_model`` opens it once, before decoding the test
    split, and hands it to :func:`fit_chunked`.
    """
    from .features._store import FeatureStore, files_fingerprint, store_key

    head = pipeline[:_scale_index(pipeline)]
    params = {"head": _feature_params(head), "size": list(size),
              "cropper": None if cropper is None else _feature_params(cropper)}
    key = store_key(params, files_fingerprint(images.paths, images.labels))
    return FeatureStore(feature_store, key, len(images), chunk_size, params)


def _merge_moments(summaries: list[dict]) -> tuple[int, np.ndarray, np.ndarray]:
    """Chan et al.'s pairwise update: (n, mean, variance) of all chunks from each chunk's."""
    n, mean, m2 = 0, None, None
    for s in summaries:
        if s["n"] == 0:
            continue
        if mean is None:
            n, mean, m2 = s["n"], s["mean"].copy(), s["m2"].copy()
            continue
        total = n + s["n"]
        delta = s["mean"] - mean
        mean += delta * (s["n"] / total)
        m2 += s["m2"] + delta**2 * (n * s["n"] / total)
        n = total
    return n, mean, m2 / n


def _fitted_scaler(scaler, n: int, mean: np.ndarray, var: np.ndarray):
    """``scaler`` (a StandardScaler) with the state ``fit`` gives for these moments."""
    scaler = clone(scaler)
    # StandardScaler's own rule for constant columns (scale 1): variance within rounding of zero.
    eps = np.finfo(np.float64).eps
    constant = var <= n * eps * var + (n * mean * eps) ** 2
    scale = np.sqrt(var)
    scale[constant] = 1.0
    scaler.mean_, scaler.var_, scaler.scale_ = mean, var, scale
    scaler.n_samples_seen_, scaler.n_features_in_ = np.int64(n), len(mean)
    return scaler


def _gamma(gamma, scaler) -> float:
    """``SVMClassifier``'s gamma on the scaled rows: ``"scale"`` uses their variance, known from the moments."""
    d = len(scaler.mean_)
    if gamma == "scale":
        variance = float(np.mean(scaler.var_ / scaler.scale_**2))  # the scaled columns have mean 0
        return 1.0 / (d * variance) if variance > 0 else 1.0
    if gamma == "auto":
        return 1.0 / d
    return float(gamma)


def fit_chunked(pipeline, images: ImageList, *, size, cropper, backend: str, scheduler: str | None = None,
                store=None, chunk_size: int = 4096, timings: dict, log: Log = quiet) -> FaceDataset:
    """Fit ``pipeline`` (checked by :func:`check_chunked`) on the files of ``images``, chunk by chunk.

    The classes of ``images`` are checked beforehand, from the listing (two or
    more, ``class_weight`` keys among them: ``fit_model`` does it before the
    test split is decoded).

    Parameters
    ----------
    pipeline : Pipeline
        ``[preprocess →] features → StandardScaler → CanonicalOrderClassifier(C)``
        with ``C`` ``SVMClassifier(backend="approx")`` or ``RidgeClassifier``;
        fitted in place.
    images : ImageList
        The training files.
    size : (height, width)
    cropper : FaceCropper or None
        As :func:`fer_classic.load_dataset` takes it.
    backend : {"local", "dask", "ray"}
        ``dask``, ``ray``: chunks on the workers of ``scheduler`` (None: a
        local in-process Dask cluster, a local Ray instance; see
        :func:`ray_session`). ``local``: chunks into ``store``.
    store : FeatureStore, optional
        The memory-mapped store of these features (``local``), from
        :func:`open_feature_store`: opened (and checked) once, by the caller,
        before the test split is decoded.
    chunk_size : int, default=4096
        Files per chunk: bounds the memory of one task (``chunk_size x
        n_features`` float64, 42 MB for 4,096 HOG vectors).
    timings : dict
        Receives ``features`` (decoding and extraction together: they run in
        the same tasks) and ``fit`` (moments, landmarks, sums, solve).

    Returns
    -------
    FaceDataset
        The training set without its pixels (:class:`_ChunkedTrainingSet`),
        for :func:`fer_classic._training.fit_score_save` to record.
    """
    from sklearn.linear_model import RidgeClassifier

    from .data._folder import refuse_undecoded_folders
    from .data._images import FaceSource, _read_part
    from .estimators._canonical import coded_class_weights

    cut = _scale_index(pipeline)
    head = pipeline[:cut]
    # The head learns nothing (check_chunked): fitted on the first decodable file only, for its input checks.
    for start in range(len(images)):
        _, first, _, _ = _read_part([images.paths[start]], FaceSource(tuple(size), cropper), range(1))
        if len(first):
            break
    else:
        raise DatasetError(f"{images.name}: no training file could be decoded.")
    head.fit(first.reshape(1, -1), images.labels[start : start + 1])

    with contextlib.ExitStack() as stack:
        if backend in _ENGINES:
            tasks = stack.enter_context(_workers(backend, scheduler))
            log(f"extracting features on {tasks}, {len(images)} files in chunks of {chunk_size}")
            chunks = timed(timings, "features", _WorkerChunks, tasks, images, size, cropper, head, chunk_size)
        else:
            log(f"extracting features of {len(images)} files into {store.folder} in chunks of {chunk_size}")
            chunks = timed(timings, "features", _StoreChunks, store, images, size, cropper, head, log)
        summaries = timed(timings, "features", chunks.summaries)  # workers: waits for the extraction

        # The rows that gave features, in file order, and their labels (small: one string per row).
        offsets = [s.start for s in images.chunks(chunk_size)]
        kept_rows = np.concatenate([offset + s["kept"] for offset, s in zip(offsets, summaries)]).astype(np.intp)
        skipped = [tuple(item) for s in summaries for item in s["skipped"]]
        refuse_undecoded_folders(images.folders, kept_rows, skipped)  # as a local load refuses such a folder
        labels = images.labels[kept_rows]
        classes = np.unique(labels).astype(object)
        digests = timed(timings, "features", _fingerprint, chunks, labels, tuple(size))

        n, mean, var = _merge_moments(summaries)
        scaler = _fitted_scaler(pipeline.named_steps["scale"], n, mean, var)
        canonical = pipeline.steps[-1][1]
        # Codes in sorted order, as CanonicalOrderClassifier encodes the labels.
        rank = {label: i for i, label in enumerate(classes.tolist())}
        codes = np.fromiter((rank[label] for label in labels), dtype=np.intp, count=len(labels))
        fit = _fit_ridge if isinstance(canonical.estimator, RidgeClassifier) else _fit_approx_svm
        estimator = clone(canonical.estimator)
        estimator.set_params(**coded_class_weights(estimator, classes))  # keyed by code, as a local fit
        estimator = fit(estimator, chunks, scaler=scaler, codes=codes,
                        classes=classes, sizes=np.array([s["n"] for s in summaries]),
                        timings=timings, log=log)

    # The fitted state CanonicalOrderClassifier gives a local fit.
    canonical.classes_, canonical.estimator_ = classes, estimator
    canonical.n_features_in_ = len(mean)
    pipeline.steps[cut] = ("scale", scaler)
    pipeline.steps[:cut] = head.steps
    return _ChunkedTrainingSet(labels, images.paths[kept_rows], tuple(size), images.name, skipped, digests)


def _chunk_args(codes: np.ndarray, weights: np.ndarray, n_classes: int,
                sizes: np.ndarray) -> list[tuple]:
    """Each chunk's ``(codes, weights, n_classes)`` for :func:`_sums`, from its row count."""
    bounds = np.r_[0, np.cumsum(sizes)]
    return [(codes[a:b], weights[a:b], n_classes) for a, b in zip(bounds[:-1], bounds[1:])]


def _fit_approx_svm(svm, chunks, *, scaler, codes, classes, sizes, timings: dict, log: Log):
    """``svm`` (an approximate ``SVMClassifier``) fitted from the chunks, as a local fit leaves it.

    Its :class:`~fer_classic.estimators.LandmarkRidgeClassifier` is solved
    from the chunks' :class:`~fer_classic.estimators.LandmarkSums`, with the
    landmarks a local fit draws.
    """
    from .estimators._landmark_ridge import LandmarkRidgeClassifier, landmark_sums
    from .estimators._rbf import squared_norms

    ridge = LandmarkRidgeClassifier(alpha=1.0 / (2.0 * float(svm.C)),
                                    gamma=_gamma(svm.gamma, scaler), n_components=svm.n_components,
                                    class_weight=svm.class_weight, random_state=svm.random_state)
    # The landmarks a local fit draws: the kept training rows at Nystroem's seeded permutation.
    landmark_rows = ridge.landmark_rows(len(codes))
    chunk_of = np.searchsorted(np.cumsum(sizes), landmark_rows, side="right")
    local = landmark_rows - np.r_[0, np.cumsum(sizes)][chunk_of]
    per_chunk = [np.sort(local[chunk_of == c]) for c in range(len(sizes))]
    taken = timed(timings, "fit", chunks.take, per_chunk)
    d = len(scaler.mean_)
    components = np.empty((len(landmark_rows), d))
    for c, rows in enumerate(per_chunk):
        if len(rows):
            where = np.flatnonzero(chunk_of == c)[np.argsort(local[chunk_of == c])]
            components[where] = taken[c]
    components = (components - scaler.mean_) / scaler.scale_
    norms = squared_norms(components)

    weights = ridge.class_weights(np.bincount(codes, minlength=len(classes)))[codes]
    log(f"accumulating the approximate SVM's sums over {len(sizes)} chunks "
        f"({len(components)} landmarks, {len(codes)} rows)")
    sums = timed(timings, "fit", chunks.sums, landmark_sums,
                 _chunk_args(codes, weights, len(classes), sizes),
                 (scaler.mean_, scaler.scale_, components, norms, ridge.gamma))
    chunks.release()
    timed(timings, "fit", ridge.fit_sums, sums, classes=np.arange(len(classes)),
          components=components)

    # The fitted state SVMClassifier gives a local fit.
    svm.classes_, svm.backend_, svm.backend_reason_ = np.arange(len(classes)), "approx", "requested"
    svm.kernel_precomputed_, svm.estimator_, svm.n_features_in_ = False, ridge, d
    return svm


def _fit_ridge(ridge, chunks, *, scaler, codes, classes, sizes, timings: dict, log: Log):
    """``ridge`` (a ``RidgeClassifier``) fitted from the chunks' sums of its features.

    The sums are :class:`~fer_classic.estimators.LandmarkSums` of the scaled
    features themselves (``K = X``).

    The same object as ``ridge.fit`` on the scaled rows gives (up to the
    rounding of the order of summation).
    """
    from sklearn.utils import compute_sample_weight

    d = len(scaler.mean_)
    # RidgeClassifier's own sample weights: its class_weight on the codes it is fitted on.
    weights = np.ones(len(codes))
    if ridge.class_weight:
        weights = compute_sample_weight(ridge.class_weight, codes)
    log(f"accumulating the ridge classifier's sums over {len(sizes)} chunks ({d} features, "
        f"{len(codes)} rows; the {d} x {d} system and its solver's copy: {16 * d**2 / 1e6:.0f} MB)")
    sums = timed(timings, "fit", chunks.sums, _ridge_sums,
                 _chunk_args(codes, weights, len(classes), sizes), (scaler.mean_, scaler.scale_))
    chunks.release()
    return timed(timings, "fit", _solve_ridge, ridge, sums, len(classes))


def _solve_ridge(ridge, sums, n_classes: int):
    """``ridge`` (a ``RidgeClassifier``) solved from ``sums``, in the state its ``fit`` leaves.

    What ``RidgeClassifier.fit`` solves by Cholesky: ``(Xc' W Xc + alpha I)
    coef = Xc' W Yc``, ``Xc`` and ``Yc`` centred at their weighted means (the
    intercept is not penalised), ``intercept = y_mean - x_mean @ coef``.
    ``sums`` is consumed (its ``gram`` becomes the system).
    """
    from .estimators._landmark_ridge import centred_system, solve_normal_equations

    def penalty(gram, band):  # alpha I, the intercept unpenalised
        rows = np.arange(len(gram))[band]
        gram[rows, rows] += float(ridge.alpha)

    gram, cross, x_mean, y_mean = centred_system(sums, penalty, centre=ridge.fit_intercept)
    d = len(gram)
    coef = solve_normal_equations(gram, cross)
    # A fit on one zero row per class sets the state this scikit-learn version keeps (label
    # binarizer, classes_, n_features_in_, shapes of coef_ and intercept_); the solution then
    # replaces its zeros.
    ridge.fit(np.zeros((n_classes, d)), np.arange(n_classes))
    ridge.coef_ = coef.T.reshape(ridge.coef_.shape)
    if ridge.fit_intercept:
        ridge.intercept_ = (y_mean - x_mean @ coef).reshape(np.shape(ridge.intercept_))
    return ridge


def _predict_chunk(paths, size, cropper, model):
    from .data._images import FaceSource, _read_part

    cropper, model = _local(cropper), _local(model)

    done, faces, skipped, _ = _read_part(list(paths), FaceSource(tuple(size), cropper), range(len(paths)))
    if not len(faces):
        return done, np.empty(0, dtype=object), np.empty((0, len(model.classes))), skipped
    predicted, _, scores, _ = model.predict_scores(faces)
    return done, np.asarray(predicted, dtype=object), np.asarray(scores, dtype=float), skipped


def _predict_paths(model, group, **kwargs):
    from .prediction import predict_paths

    return predict_paths(_local(model), group, **kwargs)


def evaluate_chunked(model, images: ImageList, *, cropper, backend: str = "dask", scheduler: str | None = None,
                     chunk_size: int = 4096) -> tuple[np.ndarray, np.ndarray, np.ndarray, list, np.ndarray]:
    """Predict the files of ``images`` on Dask or Ray workers, chunk by chunk.

    The client receives one label and one row of class scores per file, never an image.

    Returns
    -------
    (true labels, predicted labels, scores, skipped, decoded): ``scores`` are
    the model's (``FERModel.predict_scores``), the ROC-AUC's input as on the
    local backend; ``decoded`` is the index into ``images`` of each row
    predicted (the files less those skipped).
    """
    with _workers(backend, scheduler) as tasks:
        model_f = tasks.put(model)
        cropper_f = None if cropper is None else tasks.put(cropper)
        parts = tasks.gather([tasks.submit(_predict_chunk, images.paths[s], model.image_shape, cropper_f, model_f)
                              for s in images.chunks(chunk_size)])
    decoded, predicted, scores, skipped = [], [], [], []
    for s, (done, labels, part_scores, part_skipped) in zip(images.chunks(chunk_size), parts):
        decoded.append(np.arange(len(images))[s][done])
        predicted.append(labels)
        scores.append(part_scores)
        skipped += part_skipped
    decoded = np.concatenate(decoded)
    return images.labels[decoded], np.concatenate(predicted), np.concatenate(scores), skipped, decoded


def predict_paths_chunked(model, inputs, *, backend: str = "dask", scheduler: str | None = None,
                          chunk_size: int = 256, every: int = 1, timeline: str | os.PathLike | None = None,
                          cropper_params: Mapping | None = None):
    """:func:`fer_classic.prediction.predict_paths` on Dask or Ray workers: each task predicts a chunk of the files.

    Images go ``chunk_size`` files to a task, each video to a task of its own;
    every task is ``predict_paths`` itself, so rows, scores and tracks are
    those of a local run, in input order. The client receives rows, never
    images. ``--annotate`` is not available (the copies would be written on
    the workers' disks); ``timeline`` is written here.

    Returns
    -------
    PredictionRun
    """
    from ._fileio import check_outputs
    from .prediction import PredictionRun, face_cropper_for
    from .prediction._model import detector_files
    from .prediction._run import (_is_video, check_every_used, check_timeline, input_files, warn_repeated,
                                  write_timeline)
    from .prediction._video import check_every

    every = check_every(every)
    cropper = face_cropper_for(model, **dict(cropper_params or {}))  # checked, and a framing change warned, here
    paths, linked = input_files(inputs)
    warn_repeated(inputs, paths, linked)
    check_every_used(every, paths)  # here, once: a worker's warning never reaches the user
    check_timeline(timeline, paths)
    # The timeline is written here, never over the detector's model file the workers read.
    check_outputs({"--timeline": timeline}, inputs={"INPUT": paths, **detector_files(cropper)}, text=("--timeline",),
                  make_parents=True)
    groups: list[list] = []
    for path in paths:
        if _is_video(path) or not groups or _is_video(groups[-1][-1]) or len(groups[-1]) >= chunk_size:
            groups.append([path])
        else:
            groups[-1].append(path)
    with _workers(backend, scheduler) as tasks:
        model_f = tasks.put(model)
        # A video is a task of its own; every only concerns those (a worker would warn of it for images).
        runs = tasks.gather([tasks.submit(_predict_paths, model_f, group, every=every if _is_video(group[0]) else 1,
                                          cropper_params=cropper_params) for group in groups])
    rows = [row for run in runs for row in run.rows]
    if timeline is not None:
        timeline = write_timeline(timeline, rows, model.classes)
    return PredictionRun(rows, [t for run in runs for t in run.tracks], model.classes, len(paths),
                         sum(run.failed for run in runs), [], timeline)
