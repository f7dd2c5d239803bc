"""Frozen deep features: ImageNet backbones (VGG16, VGG19) as scikit-learn transformers.

TensorFlow and Keras are imported only when a network is built or run, so that
``import fer_classic`` stays light; they come with ``pip install 'fer-classic[deep]'``.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import shutil
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import _resources
from .._display import one_line
from .._fileio import atomic_write, file_sha256
from .._optional import import_optional
from .._sklearn_compat import Integral, Interval, StrOptions, _fit_context
from ..data._levels import read_levels
from ..exceptions import MissingWeightsError, ModelIntegrityError
from ._base import IMAGE_SHAPE_CONSTRAINT, ImageTransformerMixin, infer_image_shape

__all__ = [
    "BACKBONES", "Backbone", "DeepFeatures", "deep_metadata", "download_imagenet_weights", "import_keras",
    "keras_weights_path",
]

_POOLINGS = ("avg", "max", "flatten")
_DEVICES = ("auto", "cpu", "gpu")
_PRECISIONS = ("auto", "float32", "mixed")
_WEIGHT_SUFFIXES = (".h5", ".keras")
# Rows of a non-square pixel count from this many on (an 8x8 image) are refused without image_shape: such
# rows are faces of another shape or flattened colour. Fewer are no face at all (scikit-learn's estimator
# checks feed 1..20 values a row): they stay one-row strips, so those contract checks keep running.
# The rule as users read it: _base.infer_image_shape and the image_shape parameter of both extractors.
_SMALLEST_STRIP_REFUSED = 64
# Rebuilding a loaded extractor's network (on first use) is one critical section for every extractor: rare and
# short next to the work that follows, and a lock per instance would have to be left out of the pickle.
_REBUILD_LOCK = threading.Lock()
# A transform of more batches than this shows a progress bar (verbose="auto", on a terminal).
_PROGRESS_MIN_BATCHES = 20


def import_keras(what: str = "Deep features"):
    """Import TensorFlow and Keras, lazily.

    Parameters
    ----------
    what : str
        What needs them, for the message.

    Returns
    -------
    (tensorflow, keras) modules

    Raises
    ------
    MissingDependencyError
        If either is missing; the message names the ``deep`` extra.
    """
    tf = import_optional("tensorflow", what)
    keras = import_optional("keras", what)
    return tf, keras


@dataclass(frozen=True)
class Backbone:
    """A Keras application usable as a frozen feature extractor.

    Adding a backbone (ResNet50, DenseNet169, …) is one more entry in
    :data:`BACKBONES`: the constructor and ``preprocess_input`` are looked up
    by name in ``keras.applications``.
    """

    application: str  #: constructor name in keras.applications, e.g. "VGG16"
    module: str  #: keras.applications submodule holding preprocess_input, e.g. "vgg16"
    default_layer: str  #: layer whose output are the features when ``layer=None``
    min_size: int  #: smallest input side the application accepts
    weights_file: str  #: ImageNet weights (no top) in Keras' cache, ~/.keras/models/<this>
    weights_origin: str  #: where Keras downloads them from
    weights_md5: str  #: Keras' checksum of that file


_KERAS_WEIGHTS = "https://storage.googleapis.com/tensorflow/keras-applications/"

#: Backbones by name.
BACKBONES: dict[str, Backbone] = {
    "vgg16": Backbone(
        "VGG16", "vgg16", "block5_pool", 32, "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        _KERAS_WEIGHTS + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "6d6bbae143d832006294945121d1f1fc",
    ),
    "vgg19": Backbone(
        "VGG19", "vgg19", "block5_pool", 32, "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        _KERAS_WEIGHTS + "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "253f8cb515780f3b799900260a226db6",
    ),
}


def keras_weights_path(backbone: str) -> Path:
    """Where Keras caches the ImageNet weights of ``backbone``: ``$KERAS_HOME/models/<file>``.

    ``KERAS_HOME`` defaults to ``~/.keras``; it is read when this is called.
    """
    home = os.environ.get("KERAS_HOME") or os.path.join("~", ".keras")
    return Path(home).expanduser() / "models" / BACKBONES[backbone].weights_file


def _check_backbone(backbone: str) -> Backbone:
    if backbone not in BACKBONES:
        raise ValueError(f"backbone must be one of {sorted(BACKBONES)}; got {backbone!r}.")
    return BACKBONES[backbone]


#: (path, size, mtime_ns) -> (MD5, SHA-256) of a weights file: reading 58-80 MB on every fit is wasted time.
_DIGEST_CACHE: dict[tuple[str, int, int], tuple[str, str]] = {}


def _file_digests(path: Path) -> tuple[str, str]:
    """MD5 (Keras' check) and SHA-256 (the model's record) of ``path``, from one read, once per file and process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGEST_CACHE:
        md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                md5.update(block)
                sha256.update(block)
        _DIGEST_CACHE[key] = md5.hexdigest(), sha256.hexdigest()
    return _DIGEST_CACHE[key]


def _file_md5(path: Path) -> str:
    return _file_digests(path)[0]


def _how_to_get(backbone: str) -> str:
    return (f"fetch it once with `fer-classic download-weights {backbone}` (Python: "
            f"fer_classic.features.download_imagenet_weights({backbone!r}), or DeepFeatures(weights=PATH) for a "
            "local copy)")


def _imagenet_weights(backbone: str) -> Path:
    """The ImageNet weights file of ``backbone`` in Keras' cache, checked against Keras' MD5; never downloads.

    Raises
    ------
    MissingWeightsError
        If the file is not cached, or is not the file Keras publishes (another MD5: a partial
        copy, another version); the message names the file, the cache folder and how to fetch it.
    """
    spec = _check_backbone(backbone)
    path = keras_weights_path(backbone)
    if not path.is_file():
        raise MissingWeightsError(
            f"weights='imagenet': {path} is not in Keras' cache ($KERAS_HOME/models, default "
            f"~/.keras/models) and fer-classic does not download unasked: "
            f"{_how_to_get(backbone)}."
        )
    md5 = _file_md5(path)
    if md5 != spec.weights_md5:
        raise MissingWeightsError(
            f"weights='imagenet': {path} is not Keras' ImageNet file of {backbone} (MD5 {md5}, expected "
            f"{spec.weights_md5}): a partial copy or another file; {_how_to_get(backbone)}, which replaces it."
        )
    return path


def download_imagenet_weights(backbone: str) -> Path:
    """Download the ImageNet weights (no top) of ``backbone`` into Keras' cache; the one network access.

    ``DeepFeatures(weights="imagenet")`` only reads Keras' cache
    (``$KERAS_HOME/models``, default ``~/.keras/models``); this fetches the
    file there once, from Keras' own address, checked against Keras' MD5.
    A file already there with the right MD5 is not fetched again.

    Parameters
    ----------
    backbone : {"vgg16", "vgg19"}
        Key of :data:`BACKBONES` (58 MB for vgg16, 80 MB for vgg19).

    Returns
    -------
    Path
        The cached file.

    Raises
    ------
    ValueError
        If ``backbone`` is unknown.
    MissingWeightsError
        If Keras' cache folder cannot be written (before any download), the
        download fails or its MD5 differs.
    MissingDependencyError
        If TensorFlow is not installed.
    """
    spec = _check_backbone(backbone)
    path = keras_weights_path(backbone)  # the one target: where _imagenet_weights (fit) reads
    if path.is_file() and _file_md5(path) == spec.weights_md5:
        return path
    _, keras = import_keras("download_imagenet_weights")  # first: without TensorFlow no staging folder is left
    staging = _staging_folder(path.parent)
    try:
        try:
            # a fresh writable folder: Keras' fallback to /tmp/.keras (an unwritable cache_dir) cannot happen
            got = Path(keras.utils.get_file(spec.weights_file, spec.weights_origin, cache_subdir="models",
                                            file_hash=spec.weights_md5, cache_dir=str(staging)))
        except Exception as exc:  # Keras wraps URL and HTTP errors in a bare Exception
            raise MissingWeightsError(
                f"downloading {spec.weights_file} from {spec.weights_origin} into {path.parent} failed "
                f"({type(exc).__name__}: {exc}); download it with a browser and put it there."
            ) from exc
        os.replace(got, path)  # whatever path Keras returned, the file ends where fit reads it
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return _imagenet_weights(backbone)


def _staging_folder(folder: Path) -> Path:
    """A new temporary folder inside Keras' cache ``folder`` (made if missing); refused when it cannot be written.

    Raises
    ------
    MissingWeightsError
        Naming ``folder`` and ``KERAS_HOME``.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError(f"no write permission on {folder}")
        return Path(tempfile.mkdtemp(prefix=".download-", dir=folder))
    except OSError as exc:
        raise MissingWeightsError(
            f"Keras' cache folder {folder} cannot be written ({exc}), and fit reads the ImageNet weights only "
            "from there: set KERAS_HOME to a writable folder (its models/ subfolder is used), for downloading "
            "and for fitting."
        ) from exc


@contextmanager
def _dtype_policy(keras, policy: str):
    """Build layers under Keras dtype ``policy``; the global policy is restored afterwards."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _arrays_sha256(arrays) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(str(array.shape).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _seed(random_state) -> int:
    """The int seed of a ``random_state``: an int as given; None or a RandomState draws one from it."""
    if isinstance(random_state, Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _seeded_weights(shapes, random_state: int) -> list[np.ndarray]:
    """Glorot-uniform kernels and zero biases from a seeded NumPy generator (weights=None)."""
    rng = np.random.default_rng(random_state)
    weights = []
    for shape in shapes:
        if len(shape) < 2:
            weights.append(np.zeros(shape, dtype=np.float32))
            continue
        receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        weights.append(rng.uniform(-limit, limit, size=shape).astype(np.float32))
    return weights


def _refuse_strip(who: str, n_pixels: int) -> None:
    """Refuse rows of a non-square pixel count without ``image_shape``: a 1 x n strip is no face for a CNN."""
    side = math.isqrt(n_pixels // 3)
    colour = (f" Rows of 3 x {side}x{side} values look like flattened colour images: convert them to gray "
              "first (one value a pixel)." if n_pixels % 3 == 0 and side * side * 3 == n_pixels else "")
    raise ValueError(
        f"{who}: rows of {n_pixels} pixels are not a square image, and image_shape is not given; pass "
        f"image_shape=(h, w) with h * w == {n_pixels} (e.g. (40, 48) for 40-pixel-high, 48-pixel-wide faces)."
        + colour
    )


class _KerasExtractorMixin(ImageTransformerMixin):
    """What the Keras-backed extractors share: devices, batched inference, pickling.

    The fitted Keras model is ``model_``. Pickles hold its weights as NumPy
    arrays (never a Keras file), and the model is rebuilt from the fitted
    attributes (the architecture ``fit`` chose, not the parameters, which may
    have changed since) and those weights the first time an unpickled
    extractor uses it, so a pipeline file can be loaded, inspected and
    re-saved without TensorFlow.
    """

    def _validate_images(self, X, *, reset: bool) -> np.ndarray:
        """Validated images (n, height, width) in their own numeric dtype (uint8 stays uint8)."""
        if not reset:
            check_is_fitted(self)
        X = validate_data(self, X, dtype="numeric", reset=reset)
        if X.dtype.kind not in "uif":
            X = X.astype(np.float32)
        if reset:
            shape = infer_image_shape(X.shape[1], getattr(self, "image_shape", None))
            if getattr(self, "image_shape", None) is None and shape[0] == 1 and shape[1] >= _SMALLEST_STRIP_REFUSED:
                _refuse_strip(type(self).__name__, shape[1])
            self.image_shape_ = shape
        return read_levels(X.reshape(len(X), *self.image_shape_))  # 0..1 floats fed Keras' 0..255 input as 0..1

    def _images(self, X) -> np.ndarray:
        return self._validate_images(X, reset=False)

    def _resolve_device(self, tf) -> str:
        """TensorFlow device name for ``device``; ValueError for ``gpu`` without one."""
        gpus = tf.config.list_physical_devices("GPU")
        if self.device == "gpu" and not gpus:
            raise ValueError(
                "device='gpu' but TensorFlow sees no GPU (tf.config.list_physical_devices('GPU') is "
                "empty): install a CUDA build (pip install 'tensorflow[and-cuda]') on a GPU machine, "
                "or use device='auto' or 'cpu'."
            )
        return "/GPU:0" if gpus and self.device != "cpu" else "/CPU:0"

    def _resolve_precision(self) -> str:
        """Keras dtype policy for ``precision`` on ``device_``."""
        on_gpu = self.device_.startswith("/GPU")
        mixed = self.precision == "mixed" or (self.precision == "auto" and on_gpu)
        return ("mixed_float16" if on_gpu else "mixed_bfloat16") if mixed else "float32"

    # --- pickling: weights as arrays, model rebuilt lazily -------------------------------
    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_forward_fn", None)
        state.pop("_loaded_from", None)  # where this copy was loaded from, not part of the model
        model = state.pop("model_", None)
        if model is not None:
            state["_keras_weights"] = [np.asarray(w) for w in model.get_weights()]
        return state

    def __setstate__(self, state):
        super().__setstate__(dict(state))

    def __getattr__(self, name):
        # Only reached when normal lookup fails: rebuild an unpickled model on first use.
        if name == "model_" and "_keras_weights" in self.__dict__:
            with _REBUILD_LOCK:  # threads predicting with one loaded model: one rebuild, not a KeyError
                if "model_" in self.__dict__:  # rebuilt by the thread this one waited for
                    return self.__dict__["model_"]
                try:
                    model = self._rebuild_model(self.__dict__["_keras_weights"])
                except ValueError as exc:  # Keras' error of weights that do not fit the layers
                    source = self.__dict__.get("_loaded_from")
                    raise ModelIntegrityError(
                        (f"{source}: " if source else "")
                        + f"{type(self).__name__}: the saved network weights do not fit the network of its fitted "
                        f"architecture ({type(exc).__name__}: {one_line(str(exc))}): the model file was damaged or "
                        "edited; refit the model."
                    ) from exc
                self.__dict__["model_"] = model
                del self.__dict__["_keras_weights"]
                return model
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _rebuild_model(self, weights: list[np.ndarray]):
        raise NotImplementedError

    def _check_batch_memory(self, model, n_images: int, *, training: bool = False) -> None:
        """Refuse, before any work, a batch whose float32 activations exceed the memory available now.

        Inference holds about two layers' outputs at a time (the widest twice); training keeps
        every layer's output and its gradient. Not on a GPU: the activations are in its memory,
        not the host's, and TensorFlow names a batch too large for it.
        """
        if self.device_.startswith("/GPU"):
            return
        widths = []
        for layer in model.layers:
            try:
                widths.append(int(np.prod(layer.output.shape[1:])))
            except (AttributeError, TypeError, ValueError):  # a layer without one static output shape
                continue
        per_image = 2 * sum(widths) if training else 2 * max(widths, default=0)
        _resources.require_memory(
            4 * n_images * per_image,
            f"{type(self).__name__}: one batch of {n_images} images of {self.image_shape_[0]}x"
            f"{self.image_shape_[1]} ({'training' if training else 'activations of'} {model.name})",
            self._memory_advice(),
        )

    def _memory_advice(self) -> str:
        """What to change when a batch does not fit in memory: this class's parameters and their CLI way."""
        raise NotImplementedError

    # --- batched inference -------------------------------------------------------------
    def _forward(self, batch: np.ndarray) -> np.ndarray:
        """Features of one batch (n <= batch_size, height, width), float32.

        Everything bigger than the input images (upsampled, three-channel
        copies, activations) exists only for this one batch.
        """
        tf, _ = import_keras(type(self).__name__)
        fn = self.__dict__.get("_forward_fn") or self._compile_forward()
        with tf.device(self.device_):
            out = fn(tf.convert_to_tensor(batch.astype(np.float32, copy=False)))
        return np.asarray(out, dtype=np.float32)

    def _compile_forward(self):
        """The traced batch function; made in ``fit`` (or on first use after unpickling)."""
        tf, _ = import_keras(type(self).__name__)
        self.model_  # an unpickled model is rebuilt here, eagerly, not inside the traced graph
        # One trace for every batch size (None): no retracing, nor TensorFlow's warning about it.
        signature = [tf.TensorSpec((None, *self.image_shape_), tf.float32)]
        # Each fit traces its new function once. TensorFlow counts traces per function code (a bound method's
        # is shared by every instance) and warned after five fits in a loop (a search's CV); a partial has no
        # code of its own, so each function counts its own traces.
        self._forward_fn = tf.function(functools.partial(type(self)._graph, self), input_signature=signature,
                                       autograph=False)
        return self._forward_fn

    def _graph(self, images):
        """TensorFlow ops from a float32 batch (n, height, width) to features (n, k)."""
        raise NotImplementedError

    def _predict_features(self, images: np.ndarray) -> np.ndarray:
        """``_forward`` over ``images`` one batch at a time, with a progress bar for long runs.

        float32, the network's own precision: a float64 copy would double the
        memory and promise digits the network does not compute (the rounding
        of a float32 result depends on the batch's composition and the CPU's
        kernels, at the level of float32 rounding; see ``transform``).
        """
        n, size = len(images), int(self.batch_size)
        out = np.empty((n, self.n_features_out_), dtype=np.float32)
        progress = None
        verbose = getattr(self, "verbose", 0)
        n_batches = -(-n // size)
        if verbose is True or (verbose == "auto" and n_batches > _PROGRESS_MIN_BATCHES and sys.stdout.isatty()):
            _, keras = import_keras(type(self).__name__)
            progress = keras.utils.Progbar(n, unit_name="image")
        for start in range(0, n, size):
            out[start : start + size] = self._forward(images[start : start + size])
            if progress is not None:
                progress.update(min(start + size, n))
        return out

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        return self._predict_features(images)

    def transform(self, X):
        """Features of ``X`` (n_samples, height * width), float32, computed batch by batch."""
        return self._predict_features(self._images(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        # float32 out whatever comes in: scikit-learn's checks then compare results at
        # float32 tolerance (rtol 1e-4), not at float64's 1e-7.
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


class DeepFeatures(_KerasExtractorMixin):
    """Frozen ImageNet backbone (VGG16, VGG19) as a feature extractor.

    Each grayscale image is upsampled (bilinear) to ``input_size``, copied to
    three channels and preprocessed by the backbone's own
    ``preprocess_input``; the output of ``layer`` is pooled to one vector.
    The network never trains: ``fit`` only builds it and learns the input
    geometry, so features of an image do not depend on the other images or on
    the batch it is in (up to float32 rounding: features are float32, see
    :meth:`transform`). Inference runs batch by batch (``batch_size``), so no
    more than one batch of upsampled images is ever held in memory.
    Changing a parameter after ``fit`` changes nothing until the next ``fit``
    (an unpickled extractor rebuilds the network from its fitted attributes).

    Needs TensorFlow: ``pip install 'fer-classic[deep]'``.

    Parameters
    ----------
    backbone : {"vgg16", "vgg19"}, default="vgg16"
        Keras application (see :data:`BACKBONES`).
    layer : str, optional
        Name of the layer whose output are the features (``block4_pool``,
        ``block5_conv3``, …); default the backbone's last pooling layer
        (``block5_pool``).
    pooling : {"avg", "max", "flatten"}, default="avg"
        How the layer's (height, width, channels) map becomes a vector:
        global average, global max, or all values (``flatten``; width grows
        with ``input_size``).
    input_size : int, optional
        Side, in pixels, images are resized to before the network; default
        the image's own side, raised to the backbone's minimum (32 for VGG).
        Cost grows with its square.
    weights : "imagenet", path or None, default="imagenet"
        ``"imagenet"``: Keras' pretrained weights, read from its cache
        (``$KERAS_HOME/models``, default ``~/.keras/models``) and checked
        against Keras' MD5; nothing is downloaded: fetch them once with
        :func:`download_imagenet_weights` (``fer-classic download-weights
        vgg16``), else a :class:`~fer_classic.exceptions.MissingWeightsError`
        names the file and the folder. A path: a local ``.h5`` /
        ``.weights.h5`` weights file or ``.keras`` model of the same
        architecture. None: random (seeded Glorot-uniform) weights, for tests.
    batch_size : int, default=64
        Images per forward pass.
    device : {"auto", "cpu", "gpu"}, default="auto"
        ``auto`` uses a GPU when TensorFlow sees one.
    precision : {"auto", "float32", "mixed"}, default="auto"
        ``mixed``: float16 compute on GPU (bfloat16 on CPU), float32 weights;
        ``auto``: mixed on GPU, float32 on CPU. On a CPU with bfloat16 units
        (AMX, AVX-512 BF16) ``mixed`` was 2.5 to 3.5 times faster here; features
        then carry about three significant digits.
    cache_dir : path, optional
        Folder of computed features, one ``.npy`` file per call of
        ``transform``, keyed by backbone, layer, pooling, input size,
        precision, weights hash and a fingerprint of the data; a later call
        with the same key loads the file instead of running the network.
    verbose : bool or "auto", default="auto"
        Progress bar while transforming; ``auto`` shows one for more than 20
        batches on a terminal.
    random_state : int, RandomState instance or None, default=0
        Seed of the random weights (``weights=None`` only). An int is the
        seed; None (NumPy's global generator) or a RandomState draws one,
        recorded in ``weights_source_`` (``"random (seed N)"``).
    image_shape : (int, int), optional
        Geometry of a row; default infers a square. Rows of 64 or more
        values that are not a square are refused (pass their
        ``image_shape``); smaller rows are read as ``1 x n`` strips.

    Attributes
    ----------
    image_shape_ : (int, int)
        Geometry learned in ``fit``.
    backbone_, pooling_ : str
        The ``backbone`` and ``pooling`` fitted.
    layer_ : str
        The layer the features come from.
    input_size_ : int
        Side of the network's input.
    n_features_out_ : int
        Length of one feature vector.
    weights_source_ : str
        ``"imagenet"``, the resolved weights path, or ``"random (seed N)"``.
    weights_sha256_ : str
        SHA-256 of the weights file (of the generated arrays for ``weights=None``).
    device_ : str
        TensorFlow device the network runs on (``/CPU:0`` or ``/GPU:0``).
    precision_ : str
        Keras dtype policy of the network (``float32``, ``mixed_float16``, ``mixed_bfloat16``).
    model_ : keras.Model
        The frozen network, cut at ``layer_``.

    Examples
    --------
    >>> from fer_classic.features import DeepFeatures
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.svm import SVC
    >>> pipe = make_pipeline(DeepFeatures(backbone="vgg16", input_size=96), SVC())  # doctest: +SKIP
    """

    _parameter_constraints: dict = {
        "backbone": [StrOptions(set(BACKBONES))],
        "layer": [str, None],
        "pooling": [StrOptions(set(_POOLINGS))],
        "input_size": [Interval(Integral, 1, None, closed="left"), None],  # the backbone's minimum: in fit
        "weights": [str, os.PathLike, None],  # "imagenet" or a path; the suffix is checked in fit
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [StrOptions(set(_DEVICES))],
        "precision": [StrOptions(set(_PRECISIONS))],
        "cache_dir": [str, os.PathLike, None],
        "verbose": ["boolean", StrOptions({"auto"})],
        "random_state": ["random_state"],
        "image_shape": IMAGE_SHAPE_CONSTRAINT,
    }

    def __init__(
        self,
        *,
        backbone: str = "vgg16",
        layer: str | None = None,
        pooling: str = "avg",
        input_size: int | None = None,
        weights: str | os.PathLike | None = "imagenet",
        batch_size: int = 64,
        device: str = "auto",
        precision: str = "auto",
        cache_dir: str | os.PathLike | None = None,
        verbose: bool | str = "auto",
        random_state: int | np.random.RandomState | None = 0,
        image_shape: tuple[int, int] | None = None,
    ):
        self.backbone = backbone
        self.layer = layer
        self.pooling = pooling
        self.input_size = input_size
        self.weights = weights
        self.batch_size = batch_size
        self.device = device
        self.precision = precision
        self.cache_dir = cache_dir
        self.verbose = verbose
        self.random_state = random_state
        self.image_shape = image_shape

    @property
    def _feature_prefix(self) -> str:
        return f"{getattr(self, 'backbone_', self.backbone)}_"

    def __setstate__(self, state):
        state = dict(state)
        if "layer_" in state:  # fitted by a version that did not keep these: they were its parameters
            state.setdefault("backbone_", state.get("backbone"))
            state.setdefault("pooling_", state.get("pooling"))
        super().__setstate__(state)

    def _check_params(self, image_shape: tuple[int, int]) -> None:
        minimum = BACKBONES[self.backbone].min_size
        if self.input_size is not None and self.input_size < minimum:
            raise ValueError(
                f"input_size must be an integer of at least {minimum} (the smallest input {self.backbone} "
                f"takes) or None (the image side, {max(image_shape)}, raised to {minimum}); "
                f"got {self.input_size!r}."
            )
        if self.weights is not None and self.weights != "imagenet":
            path = Path(self.weights)
            if not path.name.endswith(_WEIGHT_SUFFIXES):
                raise ValueError(
                    f"weights must be 'imagenet', None or the path of a .h5, .weights.h5 or .keras file; "
                    f"got {self.weights!r}."
                )
            if not path.is_file():
                raise FileNotFoundError(f"weights file {str(path)!r} does not exist; check the path.")

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Build the frozen network and learn the input geometry; ``y`` is ignored.

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)
            Flattened grayscale images, 0..255.
        y : None
            Ignored.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If a parameter is invalid (or ``device='gpu'`` without a GPU).
        FileNotFoundError
            If ``weights`` names a missing file.
        MissingWeightsError
            If ``weights='imagenet'`` and the weights are not in Keras' cache, or not Keras' file (MD5).
        MissingDependencyError
            If TensorFlow is not installed.
        """
        self._validate_images(X, reset=True)
        self._check_params(self.image_shape_)
        self._cache_folder()
        tf, keras = import_keras("DeepFeatures")
        self.__dict__.pop("_forward_fn", None)
        self.__dict__.pop("_keras_weights", None)
        self.device_ = self._resolve_device(tf)
        self.precision_ = self._resolve_precision()
        # What the network is rebuilt from (after unpickling): set_params after fit changes nothing until refit.
        self.backbone_, self.pooling_ = self.backbone, self.pooling
        self.input_size_ = int(self.input_size or max(max(self.image_shape_), BACKBONES[self.backbone].min_size))
        self.layer_ = self.layer or BACKBONES[self.backbone].default_layer

        if self.weights is None:
            model = self._build(keras)
            seed = _seed(self.random_state)
            weights = _seeded_weights([tuple(w.shape) for w in model.weights], seed)
            model.set_weights(weights)
            self.weights_source_ = f"random (seed {seed})"
            self.weights_sha256_ = _arrays_sha256(weights)
        else:
            path = _imagenet_weights(self.backbone) if self.weights == "imagenet" else Path(self.weights)
            model = self._build(keras, path)
            self.weights_source_ = "imagenet" if self.weights == "imagenet" else str(path.resolve())
            # the ImageNet file's digests come from the read that checked its MD5
            self.weights_sha256_ = _file_digests(path)[1] if self.weights == "imagenet" else file_sha256(path)
        model.trainable = False
        self._check_batch_memory(model, int(self.batch_size))
        self.model_ = model
        shape = model.output_shape
        self.n_features_out_ = int(np.prod(shape[1:])) if self.pooling_ == "flatten" else int(shape[-1])
        self._compile_forward()
        return self

    def _build(self, keras, weights_path: Path | None = None):
        """The backbone cut at ``layer_``, built on the device under the chosen dtype policy."""
        spec = BACKBONES[self.backbone_]
        application = getattr(keras.applications, spec.application)
        tf, _ = import_keras()
        with _dtype_policy(keras, self.precision_), tf.device(self.device_):
            shape = (self.input_size_, self.input_size_, 3)
            keras_file = weights_path is not None and weights_path.suffix == ".keras"
            try:
                full = application(include_top=False, weights=None if keras_file or weights_path is None
                                   else str(weights_path), input_shape=shape)
            except (ValueError, OSError) as exc:
                raise ValueError(
                    f"weights file {str(weights_path)!r} does not hold {spec.application} weights "
                    f"without the classifier top (include_top=False): {exc}"
                ) from exc
            try:
                output = full.get_layer(self.layer_).output
            except ValueError as exc:
                names = ", ".join(layer.name for layer in full.layers[1:])
                raise ValueError(f"layer {self.layer_!r} is not a layer of {self.backbone_}; choose one of "
                                 f"{names}.") from exc
            model = keras.Model(full.input, output, name=f"{self.backbone_}_{self.layer_}")
            if keras_file:
                self._copy_weights(keras, model, weights_path, full)
        return model

    @staticmethod
    def _copy_weights(keras, model, path: Path, full) -> None:
        """Copy, layer by layer (by name), the weights of a saved ``.keras`` model into ``model``.

        The saved model must have exactly the weighted layers of ``full`` (the backbone without
        its top; a top is allowed): VGG19 holds every layer name of VGG16 with the same shapes,
        and its weights copied into VGG16 make a network that was never trained.
        """
        try:
            saved = keras.saving.load_model(str(path), compile=False)
        except Exception as exc:  # noqa: BLE001 - Keras says "File not found" for a damaged zip, among others
            raise ValueError(
                f"weights file {str(path)!r} is not a readable .keras model ({type(exc).__name__}: {exc}): it is "
                "damaged or not a Keras file; save the model again (model.save) or pass a .weights.h5 file."
            ) from exc
        top = {"flatten", "fc1", "fc2", "predictions"}
        expected = {layer.name for layer in full.layers if layer.weights}
        found = {layer.name for layer in saved.layers if layer.weights and layer.name not in top}
        architecture = full.name.upper() if full.name else model.name.split("_")[0]
        if found != expected:
            extra, missing = sorted(found - expected), sorted(expected - found)
            raise ValueError(
                f"weights file {str(path)!r} is not a saved {architecture} model: it has "
                + (f"layers {extra} that {architecture} has not" if extra else "")
                + (" and " if extra and missing else "")
                + (f"no layers {missing}" if missing else "")
                + f" (a {saved.name!r} model?); give {architecture}'s own weights."
            )
        for layer in model.layers:
            if not layer.weights:
                continue
            try:
                layer.set_weights(saved.get_layer(layer.name).get_weights())
            except ValueError as exc:
                raise ValueError(
                    f"weights file {str(path)!r} has no layer {layer.name!r} of the right shape: it must "
                    f"be a saved {architecture} model: {exc}"
                ) from exc

    def _memory_advice(self) -> str:
        return (f"use a smaller batch_size or input_size, or smaller images (CLI: a smaller --size, or "
                f"{self.backbone}.batch_size / {self.backbone}.input_size in a search's --grid file).")

    def _rebuild_model(self, weights):
        _, keras = import_keras("DeepFeatures")
        model = self._build(keras)
        model.set_weights(weights)
        model.trainable = False
        return model

    def _graph(self, images):
        tf, keras = import_keras()
        size = self.input_size_
        x = images[..., None]
        if tuple(self.image_shape_) != (size, size):
            x = tf.image.resize(x, (size, size), method="bilinear")
        x = tf.image.grayscale_to_rgb(x)
        preprocess = getattr(keras.applications, BACKBONES[self.backbone_].module).preprocess_input
        x = self.model_(preprocess(x), training=False)
        x = tf.cast(x, tf.float32)
        if self.pooling_ == "avg":
            return tf.reduce_mean(x, axis=(1, 2))
        if self.pooling_ == "max":
            return tf.reduce_max(x, axis=(1, 2))
        return tf.reshape(x, (tf.shape(x)[0], -1))

    def _cache_folder(self) -> Path | None:
        """``cache_dir`` as a folder, made if missing; None without one."""
        if self.cache_dir is None:
            return None
        folder = Path(self.cache_dir)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"cache_dir={str(folder)!r} is not a folder and cannot be made one ({exc}); give "
                             "the path of a folder (it is made if missing).") from exc
        return folder

    def cache_key(self, X) -> str:
        """Key of the feature cache for ``X``: model, layer, pooling, size, precision, weights, data.

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)
            Flattened grayscale images, 0..255.

        Returns
        -------
        str
            32 hexadecimal digits.
        """
        check_is_fitted(self)
        X = np.ascontiguousarray(validate_data(self, X, dtype="numeric", reset=False))
        digest = hashlib.sha256()
        for part in (self.backbone_, self.layer_, self.pooling_, self.input_size_, self.precision_,
                     self.weights_sha256_, self.image_shape_, X.dtype.str, X.shape):
            digest.update(repr(part).encode())
        digest.update(X.tobytes())
        return digest.hexdigest()[:32]

    def transform(self, X):
        """Features of ``X`` (n_samples, height * width), float32 (n_samples, n_features_out_).

        float32 is the network's precision. Features of an image do not
        depend on the other images, up to float32 rounding: how TensorFlow's
        CPU kernels (oneDNN or Eigen, by CPU type) split a batch can change
        the last bits (relative differences of about 1e-6), so compare them
        with ``rtol=1e-4``, as scikit-learn does for float32.

        With ``cache_dir``, features computed before for the same data and
        model are loaded from disk; new ones are written there.

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)
            Flattened grayscale images, 0..255.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out_)
            float32 features.
        """
        images = self._images(X)
        folder = self._cache_folder()  # before the network runs: a bad cache_dir loses no work
        if folder is None:
            return self._predict_features(images)
        path = folder / f"{self.backbone_}-{self.cache_key(X)}.npy"
        if path.is_file():
            try:
                cached = np.load(path, allow_pickle=False)
            except (OSError, ValueError, EOFError):  # a damaged entry is a miss: recomputed and rewritten
                cached = None
            if cached is not None and cached.shape == (len(images), self.n_features_out_):
                return cached.astype(np.float32, copy=False)  # files of older versions hold float64
        features = self._predict_features(images)

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as handle:  # a handle: np.save would add ".npy" to a name
                np.save(handle, features)

        atomic_write(path, write)
        return features

    def describe(self) -> dict:
        """JSON-ready description of the fitted extractor (for model files).

        Returns
        -------
        dict
            ``extractor``, ``backbone``, ``layer``, ``pooling``, ``input_size``,
            ``weights``, ``weights_sha256``, ``precision`` and ``n_features``.
        """
        check_is_fitted(self)
        return {
            "extractor": "DeepFeatures", "backbone": self.backbone_, "layer": self.layer_,
            "pooling": self.pooling_, "input_size": self.input_size_, "weights": self.weights_source_,
            "weights_sha256": self.weights_sha256_, "precision": self.precision_,
            "n_features": self.n_features_out_,
        }


def deep_metadata(estimator) -> list[dict]:
    """Descriptions of every fitted deep extractor inside ``estimator`` (pipeline, union, …).

    Parameters
    ----------
    estimator : estimator
        A fitted pipeline, union, wrapper or extractor.

    Returns
    -------
    list of dict
        One :meth:`DeepFeatures.describe` (or :meth:`~fer_classic.features.CNNFeatures.describe`) per
        DeepFeatures / CNNFeatures found, in pipeline order.
    """
    found: list[dict] = []
    if isinstance(estimator, _KerasExtractorMixin):
        return [estimator.describe()]
    for attr in ("steps", "transformer_list"):
        for _, step in getattr(estimator, attr, None) or []:
            found += deep_metadata(step)
    # A wrapper's fitted copy (FlipAugmented's estimator_, MirrorViews' transformer_), else what it wraps:
    # the template inside a fitted wrapper was never fitted.
    for fitted, template in (("estimator_", "estimator"), ("transformer_", "transformer")):
        inner = getattr(estimator, fitted, None)
        inner = getattr(estimator, template, None) if inner is None else inner
        if inner is not None and inner is not estimator:
            found += deep_metadata(inner)
    return found
