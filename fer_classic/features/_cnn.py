"""A compact VGG-style CNN trained inside ``fit``, then frozen: its penultimate layer as features."""

from __future__ import annotations

import time

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from .._sklearn_compat import Integral, Interval, Real, SequenceOf, StrOptions, _fit_context
from ._base import IMAGE_SHAPE_CONSTRAINT
from ._deep import _DEVICES, _PRECISIONS, _arrays_sha256, _dtype_policy, _KerasExtractorMixin, _seed, import_keras

__all__ = ["CNNFeatures"]

_SCHEDULES = ("cosine", "plateau")
# Trainings of at most this many steps run eagerly (same numbers, no graph tracing).
_EAGER_STEPS = 16


def validation_split(y: np.ndarray, fraction: float, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, validation) indices of ``y``; stratified when every class has two images.

    Raises
    ------
    ValueError
        If ``fraction`` leaves no image on one side.
    """
    n = len(y)
    n_val = int(round(fraction * n))
    if n_val < 1 or n_val >= n:
        raise ValueError(
            f"validation_fraction={fraction} of {n} images leaves no image to validate or to train on; "
            "use more images, another fraction, or validation_fraction=None (no early stopping)."
        )
    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 and n_val >= len(counts) and n - n_val >= len(counts) else None
    train, val = train_test_split(np.arange(n), test_size=n_val, random_state=random_state, stratify=stratify)
    return np.sort(train), np.sort(val)


def _as_tuple(value, n: int, name: str) -> tuple[int, ...]:
    values = (value,) * n if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) != n or any(not isinstance(v, (int, np.integer)) or v < 1 for v in values):
        raise ValueError(f"{name} must be a positive integer or {n} of them (one per block); got {value!r}.")
    return tuple(int(v) for v in values)


class CNNFeatures(_KerasExtractorMixin):
    """A compact VGG-style CNN fitted on the training images, then frozen as a feature extractor.

    The ICML 2013 FER challenge winner's route: train a CNN on the faces, then
    fit an SVM on its features. ``fit`` trains ``blocks`` of 3x3 convolutions
    (batch norm, ReLU, 2x2 max pooling, dropout), a dense layer of
    ``dense_units`` and a softmax head with Adam, random horizontal flips and
    small shifts, holding out ``validation_fraction`` of the training images
    (seeded, stratified) for early stopping; the weights of the best
    validation epoch are kept. ``transform`` returns the dense layer's
    activations (after ReLU, no dropout), float32: the network is frozen, so
    features do not depend on the batch (up to float32 rounding). Needs
    TensorFlow: ``pip install 'fer-classic[deep]'``.

    Parameters
    ----------
    blocks : tuple of int, default=(32, 64, 128)
        Filters of each convolution block.
    convs_per_block : int or tuple of int, default=(1, 2, 2)
        3x3 convolutions per block (one per block, or one number for all).
    dense_units : int, default=256
        Width of the penultimate layer: the number of features.
    dropout : float, default=0.3
        Dropout before the head (blocks use half of it). With 0.5 the
        network still underfitted after 14 epochs on FER2013 (training
        accuracy below validation accuracy).
    epochs : int, default=30
        Most passes over the training images. On FER2013's 28,709 training
        images one epoch took 89 to 204 seconds on this project's shared
        2-core CPU with ``precision="mixed"``.
    batch_size : int, default=128
        Images per training step (and per inference batch).
    learning_rate : float, default=1e-3
        Adam's initial learning rate.
    schedule : {"cosine", "plateau"}, default="cosine"
        ``cosine``: the rate decays to zero over ``epochs``; ``plateau``: halved
        after 2 epochs without a better validation loss.
    patience : int, default=6
        Epochs without a better validation accuracy before training stops.
    validation_fraction : float or None, default=0.1
        Held-out share of the training images for early stopping; None trains
        on all of them for ``epochs`` epochs and keeps the last weights.
    augment : bool, default=True
        Random horizontal flips and shifts of up to ``max_shift`` of the side
        during training.
    max_shift : float, default=0.1
        Largest random shift, a fraction of the image side.
    precision : {"auto", "float32", "mixed"}, default="auto"
        ``mixed``: float16 compute on GPU, bfloat16 on CPU (weights stay
        float32; on a CPU with AMX/AVX-512 BF16 a training step took about two
        thirds of the float32 time here, on others it can be slower);
        ``auto``: mixed on GPU, float32 on CPU.
    jit_compile : bool, default=False
        Compile training steps with XLA (on this project's 2-core CPU it was
        several times slower; it may pay off on a GPU).
    device : {"auto", "cpu", "gpu"}, default="auto"
        ``auto`` uses a GPU when TensorFlow sees one.
    random_state : int, RandomState instance or None, default=0
        Seed of the weights, the validation split, shuffling, dropout and
        augmentation. An int is the seed; None (NumPy's global generator) or a
        RandomState draws one int seed, kept in ``random_seed_``.
    verbose : int, default=0
        Keras' training log (0 silent, 1 progress bar, 2 one line per epoch).
    image_shape : (int, int), optional
        Geometry of a row; default infers a square. Rows of 64 or more
        values that are not a square are refused (pass their
        ``image_shape``); smaller rows are read as ``1 x n`` strips.

    Attributes
    ----------
    classes_ : ndarray
        Training labels, sorted; the head's outputs follow them.
    image_shape_ : (int, int)
        Geometry learned in ``fit``.
    n_features_out_ : int
        ``dense_units``.
    blocks_, convs_per_block_, dense_units_, dropout_
        The architecture fitted (tuples of int, int, float): what the network is rebuilt
        from after unpickling, so parameters changed after ``fit`` change nothing until the next ``fit``.
    model_ : keras.Model
        The frozen network from images to the penultimate layer.
    head_coef_, head_intercept_ : ndarray
        The softmax head (``dense_units`` x n_classes, n_classes), for the CNN's own predictions.
    history_ : dict
        Per-epoch ``loss``, ``accuracy``, ``seconds`` (and ``val_loss``, ``val_accuracy``).
    n_epochs_ : int
        Epochs trained.
    best_epoch_ : int
        Epoch (1-based) whose weights were kept.
    validation_indices_ : ndarray
        Rows of the training images held out for early stopping (empty without).
    fit_seconds_ : float
        Seconds spent training.
    random_seed_ : int
        The seed used (``random_state``, or the one drawn for None / a RandomState).
    device_ : str
        TensorFlow device used.
    precision_ : str
        Keras dtype policy of the network (``float32``, ``mixed_float16``, ``mixed_bfloat16``).

    Examples
    --------
    >>> from fer_classic.features import CNNFeatures
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.svm import SVC
    >>> pipe = make_pipeline(CNNFeatures(epochs=20), SVC())  # doctest: +SKIP
    """

    _feature_prefix = "cnn"
    _parameter_constraints: dict = {
        "blocks": [SequenceOf(Interval(Integral, 1, None, closed="left"))],
        "convs_per_block": [Interval(Integral, 1, None, closed="left"),
                            SequenceOf(Interval(Integral, 1, None, closed="left"))],  # one per block: in fit
        "dense_units": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "schedule": [StrOptions(set(_SCHEDULES))],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "augment": ["boolean"],
        "max_shift": [Interval(Real, 0, 1, closed="left")],
        "precision": [StrOptions(set(_PRECISIONS))],
        "jit_compile": ["boolean"],
        "device": [StrOptions(set(_DEVICES))],
        "random_state": ["random_state"],
        "verbose": [Interval(Integral, 0, 2, closed="both")],
        "image_shape": IMAGE_SHAPE_CONSTRAINT,
    }

    def __init__(
        self,
        *,
        blocks: tuple[int, ...] = (32, 64, 128),
        convs_per_block: int | tuple[int, ...] = (1, 2, 2),
        dense_units: int = 256,
        dropout: float = 0.3,
        epochs: int = 30,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        schedule: str = "cosine",
        patience: int = 6,
        validation_fraction: float | None = 0.1,
        augment: bool = True,
        max_shift: float = 0.1,
        precision: str = "auto",
        jit_compile: bool = False,
        device: str = "auto",
        random_state: int | np.random.RandomState | None = 0,
        verbose: int = 0,
        image_shape: tuple[int, int] | None = None,
    ):
        self.blocks = blocks
        self.convs_per_block = convs_per_block
        self.dense_units = dense_units
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.schedule = schedule
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.augment = augment
        self.max_shift = max_shift
        self.precision = precision
        self.jit_compile = jit_compile
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.image_shape = image_shape

    def _check_params(self, image_shape):
        _as_tuple(self.convs_per_block, len(self.blocks), "convs_per_block")

    def _build_trunk(self, keras, seed: int):
        """Images (n, h, w, 1) scaled to 0..1 → penultimate activations, seeded initialisers.

        Built from the fitted architecture (``blocks_``, ``convs_per_block_``, ``dense_units_``,
        ``dropout_``), never from the parameters, which may have changed since ``fit``.
        """
        layers = keras.layers
        counter = iter(range(seed * 1000, seed * 1000 + 1000))
        blocks, convs = self.blocks_, self.convs_per_block_
        inputs = keras.Input((*self.image_shape_, 1), name="image")
        x = inputs
        for b, (filters, n_convs) in enumerate(zip(blocks, convs)):
            for c in range(n_convs):
                x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"block{b + 1}_conv{c + 1}",
                                  kernel_initializer=keras.initializers.HeUniform(seed=next(counter)))(x)
                x = layers.BatchNormalization(name=f"block{b + 1}_bn{c + 1}")(x)
                x = layers.Activation("relu")(x)
            # "same" pooling keeps odd and tiny images valid (1 x n rows)
            x = layers.MaxPooling2D(padding="same", name=f"block{b + 1}_pool")(x)
            x = layers.Dropout(self.dropout_ / 2, seed=next(counter))(x)
        x = layers.Flatten()(x)
        x = layers.Dense(self.dense_units_, use_bias=False, name="dense",
                         kernel_initializer=keras.initializers.HeUniform(seed=next(counter)))(x)
        x = layers.BatchNormalization(name="dense_bn")(x)
        x = layers.Activation("relu", name="features")(x)
        return keras.Model(inputs, x, name="cnn_features")

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the CNN on ``X, y`` (early stopping on a held-out part of them), then freeze it.

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)
            Flattened grayscale images, 0..255.
        y : array-like of shape (n_samples,)
            Labels.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If a parameter is invalid, ``y`` is missing or has one class, or
            the validation split leaves no image on a side.
        MissingDependencyError
            If TensorFlow is not installed.
        """
        if y is None:
            raise ValueError("CNNFeatures requires y to be passed, but the target y is None: it learns from "
                             "labels, fit(X, y) with one label per image.")
        images = self._validate_images(X, reset=True)
        self._check_params(self.image_shape_)
        y = np.asarray(y)
        check_classification_targets(y)
        if len(y) != len(images):
            raise ValueError(f"X has {len(images)} images but y has {len(y)} labels.")
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"CNNFeatures needs at least two classes to learn from; y has 1 class: "
                             f"{self.classes_.tolist()}.")
        seed = self.random_seed_ = _seed(self.random_state)
        if self.validation_fraction is None:
            train_idx, val_idx = np.arange(len(y)), np.arange(0)
        else:
            train_idx, val_idx = validation_split(codes, float(self.validation_fraction), seed)
        tf, keras = import_keras("CNNFeatures")
        self.__dict__.pop("_forward_fn", None)
        self.__dict__.pop("_keras_weights", None)
        self.device_ = self._resolve_device(tf)
        self.precision_ = self._resolve_precision()
        # The architecture, kept: the network is rebuilt from these after unpickling.
        self.blocks_ = tuple(int(b) for b in self.blocks)
        self.convs_per_block_ = _as_tuple(self.convs_per_block, len(self.blocks_), "convs_per_block")
        self.dense_units_, self.dropout_ = int(self.dense_units), float(self.dropout)

        with tf.device(self.device_), _dtype_policy(keras, self.precision_):
            trunk = self._build_trunk(keras, seed)
            self._check_batch_memory(trunk, min(int(self.batch_size), len(train_idx)), training=True)
            model = self._classifier(keras, trunk, len(self.classes_))
            steps = -(-len(train_idx) // int(self.batch_size))
            rate = float(self.learning_rate)
            if self.schedule == "cosine":
                rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=steps * int(self.epochs))
            model.compile(optimizer=keras.optimizers.Adam(rate), loss="sparse_categorical_crossentropy",
                          metrics=["accuracy"], jit_compile=bool(self.jit_compile),
                          # tracing a training step costs seconds: not worth it for a handful of steps
                          run_eagerly=steps * int(self.epochs) <= _EAGER_STEPS)
            train = self._dataset(tf, images[train_idx], codes[train_idx], shuffle=seed)
            val = self._dataset(tf, images[val_idx], codes[val_idx]) if len(val_idx) else None
            keep = _best_weights_callback(keras, int(self.patience), monitor=val is not None)
            callbacks = [keep]
            if self.schedule == "plateau" and val is not None:
                callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2))
            start = time.perf_counter()
            history = model.fit(train, validation_data=val, epochs=int(self.epochs), callbacks=callbacks,
                                verbose=self.verbose, shuffle=False)  # the dataset shuffles, seeded
            self.fit_seconds_ = time.perf_counter() - start
        trunk.trainable = False
        self.model_ = trunk
        head = model.get_layer("head")
        coef, intercept = head.get_weights()
        self.head_coef_, self.head_intercept_ = np.asarray(coef, np.float64), np.asarray(intercept, np.float64)
        self.history_ = {k: [float(v) for v in values] for k, values in history.history.items()}
        self.history_["seconds"] = [round(v, 3) for v in keep.seconds]
        self.n_epochs_ = len(history.history["loss"])
        self.best_epoch_ = keep.best_epoch + 1
        self.validation_indices_ = val_idx
        self.n_features_out_ = self.dense_units_
        self._compile_forward()
        return self

    def _classifier(self, keras, trunk, n_classes: int):
        """Augmentation → trunk → dropout → softmax head (only used in training)."""
        layers = keras.layers
        seed = self.random_seed_
        inputs = keras.Input((*self.image_shape_, 1))
        x = inputs
        if self.augment:
            x = layers.RandomFlip("horizontal", seed=seed)(x)
            shift = float(self.max_shift)
            if shift > 0:
                x = layers.RandomTranslation(shift, shift, fill_mode="nearest", seed=seed + 1)(x)
        x = trunk(x)
        x = layers.Dropout(float(self.dropout), seed=seed + 2)(x)
        outputs = layers.Dense(n_classes, activation="softmax", name="head", dtype="float32",
                               kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 3))(x)
        return keras.Model(inputs, outputs)

    def _dataset(self, tf, images: np.ndarray, codes: np.ndarray, shuffle: int | None = None):
        x = (images.astype(np.float32) / 255.0)[..., None]
        data = tf.data.Dataset.from_tensor_slices((x, codes.astype(np.int32)))
        if shuffle is not None:
            data = data.shuffle(len(x), seed=shuffle, reshuffle_each_iteration=True)
        return data.batch(int(self.batch_size)).prefetch(tf.data.AUTOTUNE)

    def _graph(self, images):
        tf, _ = import_keras()
        return tf.cast(self.model_(images[..., None] / 255.0, training=False), tf.float32)

    def _memory_advice(self) -> str:
        return ("use a smaller batch_size or smaller images (CLI: a smaller --size, or cnn.batch_size in a "
                "search's --grid file).")

    def _rebuild_model(self, weights):
        _, keras = import_keras("CNNFeatures")
        with _dtype_policy(keras, self.precision_):
            model = self._build_trunk(keras, 0)  # the initialisers' seed is moot: the weights replace them
        model.set_weights(weights)
        model.trainable = False
        return model

    def head_predict_proba(self, X) -> np.ndarray:
        """The trained CNN's own class probabilities (softmax head), columns in ``classes_`` order.

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)
            Flattened grayscale images.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Probabilities, each row summing to 1.
        """
        logits = self.transform(X) @ self.head_coef_ + self.head_intercept_
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(axis=1, keepdims=True)

    def describe(self) -> dict:
        """JSON-ready description of the fitted extractor (for model files).

        Returns
        -------
        dict
            ``extractor``, ``backbone``, ``layer``, ``blocks``, ``weights``,
            ``weights_sha256``, ``epochs``, ``best_epoch``, ``fit_seconds``,
            ``n_features`` and ``random_seed``.
        """
        check_is_fitted(self)
        return {
            "extractor": "CNNFeatures", "backbone": "cnn", "layer": "features",
            "blocks": list(self.blocks_), "weights": "trained in fit",
            "weights_sha256": _weights_digest(self.model_), "epochs": self.n_epochs_,
            "best_epoch": self.best_epoch_, "fit_seconds": round(self.fit_seconds_, 1),
            "n_features": self.n_features_out_, "random_seed": self.random_seed_,
        }

    def __setstate__(self, state):
        state = dict(state)
        if "n_features_out_" in state and "blocks_" not in state:  # fitted by a version that did not keep them
            blocks = tuple(int(b) for b in state["blocks"])
            state.update(blocks_=blocks, convs_per_block_=_as_tuple(state["convs_per_block"], len(blocks),
                                                                    "convs_per_block"),
                         dense_units_=int(state["dense_units"]), dropout_=float(state["dropout"]))
        if "n_features_out_" in state and "random_seed_" not in state:  # versions that took an int seed only
            state["random_seed_"] = state.get("random_state")
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


def _weights_digest(model) -> str:
    return _arrays_sha256(model.get_weights())


def _best_weights_callback(keras, patience: int, *, monitor: bool):
    """Early stopping on validation accuracy that restores the best epoch's weights at the end."""

    class KeepBest(keras.callbacks.Callback):
        best_epoch = 0

        def __init__(self):
            super().__init__()
            self.best, self.weights, self.wait, self.seconds = -np.inf, None, 0, []

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.started)
            if not monitor:
                self.best_epoch = epoch
                return
            score = (logs or {}).get("val_accuracy", -np.inf)
            if score > self.best:
                self.best, self.best_epoch, self.wait = score, epoch, 0
                self.weights = self.model.get_weights()
                return
            self.wait += 1
            if self.wait >= patience:
                self.model.stop_training = True

        def on_train_end(self, logs=None):
            if self.weights is not None:
                self.model.set_weights(self.weights)

    return KeepBest()
