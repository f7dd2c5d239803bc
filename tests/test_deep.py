"""DeepFeatures (frozen VGG16/VGG19) and CNNFeatures (a CNN trained in fit): CPU, random weights, tiny inputs.

Nothing here downloads: every network has ``weights=None`` (seeded random
weights), a local weights file, or a fake "cached" file under a temporary
``KERAS_HOME``.
"""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="deep features need tensorflow: pip install 'fer-classic[deep]'")
# Keras' get_weights goes through np.array(variable) without copy=: noise from Keras, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept:DeprecationWarning")

from click.testing import CliRunner  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

from conftest import random_gray  # noqa: E402
from fer_classic import fit_model, load_model, make_pipeline as fer_pipeline  # noqa: E402
from fer_classic.cli import main  # noqa: E402
from fer_classic.exceptions import MissingWeightsError  # noqa: E402
from fer_classic.features import CNNFeatures, DeepFeatures, deep_metadata, make_features  # noqa: E402
from fer_classic.features._cnn import validation_split  # noqa: E402
from fer_classic.features._deep import keras_weights_path  # noqa: E402

# block2_pool (128 channels, 12x12 at 48 pixels): a small cut of VGG, so the tests run it in milliseconds.
SMALL = dict(weights=None, layer="block2_pool", batch_size=4, verbose=False)
TINY_CNN = dict(blocks=(4, 8), convs_per_block=1, dense_units=8, epochs=3, batch_size=16, patience=1)


@pytest.fixture(scope="module")
def images():
    """Ten random 48x48 uint8 faces as rows."""
    return random_gray((10, 48 * 48), seed=3)


@pytest.fixture(scope="module")
def vgg16(images):
    return DeepFeatures(**SMALL).fit(images)


@pytest.fixture(scope="module")
def cnn(tiny_faces):
    train = tiny_faces.select("train")
    return CNNFeatures(**TINY_CNN).fit(train.X, train.y)


@pytest.mark.parametrize("extractor", ["vgg16", "cnn"])
def test_faces_as_floats_in_0_1_give_the_features_of_their_levels(request, images, tiny_faces, extractor):
    # Keras' preprocess_input (VGG) and the CNN's /255 read 0..1 floats as almost black 0..255 faces.
    fitted = request.getfixturevalue(extractor)
    X = images if extractor == "vgg16" else tiny_faces.select("test").X[:4]
    np.testing.assert_allclose(fitted.transform(X / 255.0), fitted.transform(X), rtol=1e-4, atol=1e-4)


def _vgg_weights_file(path, backbone="vgg16", input_size=32):
    """Save seeded random VGG weights (no top) where ``path`` says; return an extractor with those weights."""
    import keras

    extractor = DeepFeatures(backbone=backbone, weights=None, verbose=False).fit(random_gray((1, 48 * 48)))
    full = getattr(keras.applications, backbone.upper())(include_top=False, weights=None,
                                                         input_shape=(input_size, input_size, 3))
    full.set_weights(extractor.model_.get_weights())
    if str(path).endswith(".weights.h5"):
        full.save_weights(path)
    else:
        full.save(path)  # .keras, or a legacy .h5 like Keras' own ImageNet files
    return extractor


def _fake_imagenet_cache(monkeypatch, tmp_path, backbone="vgg16"):
    """Random VGG weights at Keras' cache path under a temporary KERAS_HOME, registered as Keras' file (its MD5)."""
    import dataclasses
    import hashlib

    from fer_classic.features import _deep

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    path = keras_weights_path(backbone)
    path.parent.mkdir(parents=True, exist_ok=True)
    reference = _vgg_weights_file(path, backbone)  # a legacy .h5, as Keras' ImageNet files
    spec = dataclasses.replace(_deep.BACKBONES[backbone], weights_md5=hashlib.md5(path.read_bytes()).hexdigest())
    monkeypatch.setitem(_deep.BACKBONES, backbone, spec)
    return reference


# --- import and registry --------------------------------------------------------------------
def test_importing_fer_classic_does_not_import_tensorflow():
    code = "import sys, fer_classic, fer_classic.features; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("name, backbone", [("vgg16", "vgg16"), ("vgg19", "vgg19")])
def test_registry_builds_backbones(name, backbone):
    extractor = make_features(name)
    assert isinstance(extractor, DeepFeatures) and extractor.backbone == backbone


def test_registry_combines_deep_and_classic_features():
    union = make_features("vgg16+hog")
    assert [name for name, _ in union.transformer_list] == ["vgg16", "hog"]


# --- shapes, dtypes, batches ----------------------------------------------------------------
@pytest.mark.parametrize("backbone", ["vgg16", "vgg19"])
@pytest.mark.parametrize("pooling, width", [("avg", 128), ("max", 128), ("flatten", 128 * 12 * 12)])
def test_shape_and_dtype(images, backbone, pooling, width):
    features = DeepFeatures(backbone=backbone, pooling=pooling, **SMALL).fit_transform(images)
    assert features.shape == (len(images), width) and features.dtype == np.float32
    assert np.isfinite(features).all()


def test_default_layer_and_input_size(images):
    extractor = DeepFeatures(weights=None, verbose=False).fit(images[:1])
    assert (extractor.layer_, extractor.input_size_, extractor.n_features_out_) == ("block5_pool", 48, 512)


def test_upsampling_changes_the_map_size(images):
    extractor = DeepFeatures(input_size=96, pooling="flatten", **SMALL).fit(images)
    assert extractor.transform(images[:2]).shape == (2, 128 * 24 * 24)


def test_features_do_not_depend_on_the_batch(vgg16, images):
    whole = vgg16.transform(images)
    one_by_one = np.vstack([vgg16.transform(images[i : i + 1]) for i in range(len(images))])
    reversed_order = vgg16.transform(images[::-1])[::-1]
    np.testing.assert_allclose(one_by_one, whole, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(reversed_order, whole, rtol=1e-5, atol=1e-5)


def test_features_do_not_depend_on_the_fit_data(vgg16, images):
    # Frozen: fitting on other images learns nothing but the geometry.
    other = DeepFeatures(**SMALL).fit(random_gray((3, 48 * 48), seed=9))
    np.testing.assert_array_equal(other.transform(images), vgg16.transform(images))


def test_no_more_than_one_batch_is_upsampled_at_a_time(vgg16, images, monkeypatch):
    seen = []
    forward = DeepFeatures._forward

    def spy(self, batch):
        seen.append(len(batch))
        return forward(self, batch)

    monkeypatch.setattr(DeepFeatures, "_forward", spy)
    vgg16.transform(images)
    assert max(seen) <= vgg16.batch_size and sum(seen) == len(images)


def test_progress_bar_when_verbose(images, capsys):
    DeepFeatures(**{**SMALL, "verbose": True}).fit(images).transform(images)
    assert f"{len(images)}/{len(images)}" in capsys.readouterr().out


def test_feature_names(vgg16):
    names = vgg16.get_feature_names_out()
    assert len(names) == vgg16.n_features_out_ and names[0] == "vgg16_0"


def test_mixed_precision_is_close_to_float32(vgg16, images):
    mixed = DeepFeatures(precision="mixed", device="cpu", **SMALL).fit(images)
    assert mixed.precision_ == "mixed_bfloat16"
    reference = vgg16.transform(images)
    np.testing.assert_allclose(mixed.transform(images), reference, rtol=0.1, atol=0.05 * np.abs(reference).max())


# --- parameters -----------------------------------------------------------------------------
@pytest.mark.parametrize("params, message", [
    ({"backbone": "resnet"}, "The 'backbone' parameter of DeepFeatures must be a str among"),
    ({"pooling": "sum"}, "The 'pooling' parameter of DeepFeatures must be a str among"),
    ({"input_size": 16}, "input_size must be an integer of at least 32"),
    ({"device": "tpu"}, "The 'device' parameter of DeepFeatures must be a str among"),
    ({"precision": "half"}, "The 'precision' parameter of DeepFeatures must be a str among"),
    ({"batch_size": 0}, r"The 'batch_size' parameter of DeepFeatures must be an int in the range \[1, inf\)"),
    ({"layer": "block9_pool"}, "layer 'block9_pool' is not a layer of vgg16"),
    ({"weights": "weights.npz"}, "weights must be 'imagenet', None or the path"),
])
def test_invalid_parameters_are_named(images, params, message):
    with pytest.raises(ValueError, match=message):
        DeepFeatures(**{**SMALL, **params}).fit(images)


def test_missing_weights_file_is_named(images, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        DeepFeatures(weights=tmp_path / "missing.h5").fit(images)


def test_gpu_without_a_gpu_says_so(images):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is visible")
    with pytest.raises(ValueError, match="sees no GPU"):
        DeepFeatures(**{**SMALL, "device": "gpu"}).fit(images)


# --- weights --------------------------------------------------------------------------------
def test_imagenet_offline_names_keras_cache_file(images, tmp_path, monkeypatch):
    import keras

    # weights="imagenet" reads the cache only: no download is even tried (finding 5 of the deep probe).
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(keras.utils, "get_file", lambda *a, **k: pytest.fail("tried to download"))
    expected = tmp_path / "models" / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    with pytest.raises(MissingWeightsError, match="not in Keras' cache") as error:
        DeepFeatures(weights="imagenet").fit(images)
    assert str(expected) in str(error.value) and "~/.keras/models" in str(error.value)
    assert "fer-classic download-weights vgg16" in str(error.value) and "download_imagenet_weights" in str(error.value)
    assert not expected.parent.exists()  # nothing written into the cache either


def test_imagenet_cached_file_of_another_md5_is_refused(images, tmp_path, monkeypatch):
    # Random weights where Keras' ImageNet file belongs were used and recorded as "imagenet".
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    keras_weights_path("vgg16").parent.mkdir(parents=True)
    _vgg_weights_file(keras_weights_path("vgg16"))
    with pytest.raises(MissingWeightsError, match=r"is not Keras' ImageNet file of vgg16 \(MD5 [0-9a-f]{32}"):
        DeepFeatures(weights="imagenet").fit(images)


def test_imagenet_messages_give_only_advice_a_cli_user_can_follow(tmp_path, monkeypatch):
    # 'pass weights=PATH' (fit has no such option) and 'Delete it' (download-weights replaces the file).
    from fer_classic.features import _deep

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    keras_weights_path("vgg16").parent.mkdir(parents=True)
    keras_weights_path("vgg16").write_bytes(b"a partial download")
    with pytest.raises(MissingWeightsError) as error:
        _deep._imagenet_weights("vgg16")
    assert "Delete it" not in str(error.value) and "or pass weights=PATH" not in str(error.value)
    assert "`fer-classic download-weights vgg16`" in str(error.value) and "which replaces it" in str(error.value)
    assert "DeepFeatures(weights=PATH)" in str(error.value)


def test_imagenet_md5_is_computed_once_per_file(images, tmp_path, monkeypatch):
    from fer_classic.features import _deep

    _fake_imagenet_cache(monkeypatch, tmp_path)
    _deep._imagenet_weights("vgg16")
    monkeypatch.setattr(_deep.hashlib, "md5", lambda **k: pytest.fail("hashed the 58 MB file again"))
    assert _deep._imagenet_weights("vgg16") == keras_weights_path("vgg16")


def test_imagenet_file_is_read_once_per_process_for_both_digests(images, tmp_path, monkeypatch):
    # fit read the 58 MB file a second time (SHA-256 for weights_sha256_) after the MD5 check had read it.
    import hashlib

    from fer_classic.features import _deep

    _fake_imagenet_cache(monkeypatch, tmp_path)
    sha256 = hashlib.sha256(keras_weights_path("vgg16").read_bytes()).hexdigest()
    _deep._imagenet_weights("vgg16")
    monkeypatch.setattr(_deep, "file_sha256", lambda *a: pytest.fail("read the weights file again"))
    monkeypatch.setattr(_deep.hashlib, "sha256", lambda *a: pytest.fail("read the weights file again"))
    extractor = DeepFeatures(weights="imagenet", layer="block1_pool", input_size=32, verbose=False).fit(images[:1])
    assert extractor.weights_sha256_ == sha256


def _fake_get_file(calls, content=b"vgg16 weights"):
    def get_file(fname, origin, *, cache_subdir, file_hash, cache_dir, force_download=False):
        calls.append({"fname": fname, "origin": origin, "file_hash": file_hash})
        path = Path(cache_dir) / cache_subdir / fname
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return str(path)

    return get_file


def test_download_imagenet_weights_fetches_into_keras_cache_once(tmp_path, monkeypatch):
    import dataclasses
    import hashlib

    import keras

    from fer_classic.features import _deep, download_imagenet_weights

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    md5 = hashlib.md5(b"vgg16 weights").hexdigest()
    monkeypatch.setitem(_deep.BACKBONES, "vgg16", dataclasses.replace(_deep.BACKBONES["vgg16"], weights_md5=md5))
    calls = []
    monkeypatch.setattr(keras.utils, "get_file", _fake_get_file(calls))
    assert download_imagenet_weights("vgg16") == keras_weights_path("vgg16")
    assert calls == [{"fname": "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
                      "origin": _deep.BACKBONES["vgg16"].weights_origin, "file_hash": md5}]
    assert download_imagenet_weights("vgg16") == keras_weights_path("vgg16") and len(calls) == 1  # cached


def test_download_imagenet_weights_failure_is_named(tmp_path, monkeypatch):
    import keras

    from fer_classic.features import download_imagenet_weights

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: [Errno -3] Temporary failure in name resolution")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(MissingWeightsError, match=r"downloading vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"):
        download_imagenet_weights("vgg19")
    with pytest.raises(ValueError, match=r"backbone must be one of \['vgg16', 'vgg19'\]"):
        download_imagenet_weights("resnet")


def test_download_imagenet_weights_ends_where_fit_reads(tmp_path, monkeypatch):
    # Keras falls back to /tmp/.keras for an unwritable cache_dir: the path it returned was printed, and fit
    # (which reads only $KERAS_HOME/models) asked for download-weights again.
    import dataclasses
    import hashlib

    import keras

    from fer_classic.features import _deep, download_imagenet_weights

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    monkeypatch.setitem(_deep.BACKBONES, "vgg16", dataclasses.replace(
        _deep.BACKBONES["vgg16"], weights_md5=hashlib.md5(b"vgg16 weights").hexdigest()))
    fallback = _fake_get_file([])
    monkeypatch.setattr(keras.utils, "get_file", lambda *a, **k: fallback(*a, **{**k, "cache_dir": tmp_path / "tmp"}))
    assert download_imagenet_weights("vgg16") == keras_weights_path("vgg16")
    assert _deep._imagenet_weights("vgg16") == keras_weights_path("vgg16")


def test_download_imagenet_weights_into_an_unwritable_cache_is_refused_before_downloading(tmp_path, monkeypatch):
    import keras

    from fer_classic.features import _deep, download_imagenet_weights

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(_deep.os, "access", lambda path, mode: False)  # a read-only KERAS_HOME, as non-root sees it
    monkeypatch.setattr(keras.utils, "get_file", lambda *a, **k: pytest.fail("tried to download"))
    folder = keras_weights_path("vgg16").parent
    message = rf"cache folder {re.escape(str(folder))} cannot be written.*KERAS_HOME"
    with pytest.raises(MissingWeightsError, match=message):
        download_imagenet_weights("vgg16")


def test_download_imagenet_weights_without_tensorflow_leaves_no_folder_behind(tmp_path, monkeypatch):
    # Its staging folder was made before TensorFlow was found missing, and left in Keras' cache.
    from fer_classic.exceptions import MissingDependencyError
    from fer_classic.features import _deep, download_imagenet_weights

    def missing(*args, **kwargs):
        raise MissingDependencyError("needs tensorflow")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(_deep, "import_keras", missing)
    with pytest.raises(MissingDependencyError):
        download_imagenet_weights("vgg16")
    assert not list(tmp_path.rglob(".download-*"))


def test_cli_download_weights(tmp_path, monkeypatch):
    import dataclasses
    import hashlib

    import keras

    from fer_classic.cli import _BACKBONES
    from fer_classic.features import BACKBONES, _deep

    assert set(_BACKBONES) == set(BACKBONES)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    md5 = hashlib.md5(b"vgg19 weights").hexdigest()
    monkeypatch.setitem(_deep.BACKBONES, "vgg19", dataclasses.replace(_deep.BACKBONES["vgg19"], weights_md5=md5))
    calls = []
    monkeypatch.setattr(keras.utils, "get_file", _fake_get_file(calls, b"vgg19 weights"))
    result = CliRunner().invoke(main, ["download-weights", "vgg19"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(keras_weights_path("vgg19")) and len(calls) == 1


def test_imagenet_uses_the_cached_file_without_downloading(images, tmp_path, monkeypatch):
    import keras

    monkeypatch.setattr(keras.utils, "get_file", lambda *a, **k: pytest.fail("tried to download"))
    reference = _fake_imagenet_cache(monkeypatch, tmp_path)
    extractor = DeepFeatures(weights="imagenet", verbose=False).fit(images)
    assert extractor.weights_source_ == "imagenet" and len(extractor.weights_sha256_) == 64
    np.testing.assert_allclose(extractor.transform(images), reference.transform(images), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["vgg.weights.h5", "vgg.keras"])
def test_local_weights_file(images, tmp_path, name):
    reference = _vgg_weights_file(tmp_path / name)
    extractor = DeepFeatures(weights=tmp_path / name, verbose=False).fit(images)
    assert extractor.weights_source_ == str((tmp_path / name).resolve())
    np.testing.assert_allclose(extractor.transform(images), reference.transform(images), rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore:Skipping nested container:UserWarning")  # Keras, on the wrong file
def test_weights_of_another_backbone_are_rejected(images, tmp_path):
    _vgg_weights_file(tmp_path / "vgg19.weights.h5", backbone="vgg19")
    with pytest.raises(ValueError, match="does not hold VGG16 weights"):
        DeepFeatures(weights=tmp_path / "vgg19.weights.h5").fit(images)


# --- cache, pickling, pipelines -------------------------------------------------------------
def test_feature_cache_is_reused_and_keyed_by_data(images, tmp_path, monkeypatch):
    extractor = DeepFeatures(cache_dir=tmp_path, **SMALL).fit(images)
    first = extractor.transform(images)
    assert len(list(tmp_path.glob("vgg16-*.npy"))) == 1
    monkeypatch.setattr(DeepFeatures, "_forward", lambda self, batch: pytest.fail("recomputed"))
    np.testing.assert_array_equal(extractor.transform(images), first)
    assert extractor.cache_key(images[:5]) != extractor.cache_key(images)


def test_cache_key_changes_with_the_layer(images):
    other = DeepFeatures(**{**SMALL, "layer": "block1_pool"}).fit(images)
    assert other.cache_key(images) != DeepFeatures(**SMALL).fit(images).cache_key(images)


def test_pickled_extractor_holds_arrays_and_gives_the_same_features(vgg16, images):
    state = vgg16.__getstate__()
    assert "model_" not in state and all(isinstance(w, np.ndarray) for w in state["_keras_weights"])
    clone = pickle.loads(pickle.dumps(vgg16))
    np.testing.assert_array_equal(clone.transform(images), vgg16.transform(images))


def test_threads_first_using_an_unpickled_extractor_rebuild_its_network_once(vgg16, images):
    # Each thread found the saved weights and rebuilt the network; all but one then failed with KeyError.
    from concurrent.futures import ThreadPoolExecutor

    clone = pickle.loads(pickle.dumps(vgg16))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: clone.transform(images[:2]), range(4)))
    np.testing.assert_array_equal(results[0], vgg16.transform(images[:2]))
    assert all(np.array_equal(r, results[0]) for r in results)


def test_pipeline_with_extractor_survives_joblib(tiny_faces, tmp_path):
    train, test = tiny_faces.select("train"), tiny_faces.select("test")
    pipe = make_pipeline(DeepFeatures(**SMALL), SVC()).fit(train.X, train.y)
    joblib.dump(pipe, tmp_path / "pipe.joblib")
    loaded = joblib.load(tmp_path / "pipe.joblib")
    np.testing.assert_array_equal(loaded.decision_function(test.X), pipe.decision_function(test.X))


def test_fit_model_records_backbone_layer_and_weights(tiny_faces, tmp_path, monkeypatch):
    import keras

    monkeypatch.setattr(keras.utils, "get_file", lambda *a, **k: pytest.fail("tried to download"))
    _fake_imagenet_cache(monkeypatch, tmp_path)
    result = fit_model(tiny_faces, features="vgg16+hog", clf="svm")
    (deep,) = result.model.metadata["deep_features"]
    assert deep["backbone"] == "vgg16" and deep["layer"] == "block5_pool" and deep["weights"] == "imagenet"
    assert len(deep["weights_sha256"]) == 64
    json.dumps(result.model.metadata["deep_features"])


def test_cli_fits_vgg16_with_an_svm(tmp_path, monkeypatch, folder_dataset):
    import keras

    monkeypatch.setattr(keras.utils, "get_file", lambda *a, **k: pytest.fail("tried to download"))
    _fake_imagenet_cache(monkeypatch, tmp_path)
    out = tmp_path / "vgg.joblib"
    result = CliRunner().invoke(main, ["fit", "--data", str(folder_dataset), "--features", "vgg16", "--clf", "svm",
                                       "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert 0.0 <= json.loads(result.stdout)["accuracy"] <= 1.0
    model = load_model(out)
    assert model.metadata["deep_features"][0]["backbone"] == "vgg16"
    assert set(model.predict(random_gray((2, 48, 48)))) <= set(model.classes)


def test_cli_offline_imagenet_error_is_clean(tmp_path, monkeypatch, folder_dataset):
    import keras

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: [Errno -3] Temporary failure in name resolution")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(keras.utils, "get_file", offline)
    result = CliRunner().invoke(main, ["fit", "--data", str(folder_dataset), "--features", "vgg19",
                                       "--out", str(tmp_path / "m.joblib")])
    assert result.exit_code != 0 and "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5" in result.output


# --- CNNFeatures ----------------------------------------------------------------------------
def test_cnn_features_shape_dtype_and_history(cnn, tiny_faces):
    test = tiny_faces.select("test")
    features = cnn.transform(test.X)
    assert features.shape == (len(test), 8) and features.dtype == np.float32
    assert (features >= 0).all()  # ReLU activations of the penultimate layer
    assert cnn.n_epochs_ == len(cnn.history_["loss"]) == len(cnn.history_["seconds"])
    assert 1 <= cnn.best_epoch_ <= cnn.n_epochs_ <= TINY_CNN["epochs"]


def test_cnn_features_do_not_depend_on_the_batch(cnn, tiny_faces):
    X = tiny_faces.select("test").X
    whole = cnn.transform(X)
    np.testing.assert_allclose(np.vstack([cnn.transform(X[i : i + 3]) for i in range(0, len(X), 3)]), whole,
                               rtol=1e-5, atol=1e-6)


def test_cnn_is_seeded(cnn, tiny_faces):
    train, test = tiny_faces.select("train"), tiny_faces.select("test")
    again = CNNFeatures(**TINY_CNN).fit(train.X, train.y)
    np.testing.assert_allclose(again.transform(test.X), cnn.transform(test.X), rtol=1e-4, atol=1e-5)


def test_cnn_validation_split_comes_from_training_data_only(cnn, tiny_faces):
    train = tiny_faces.select("train")
    train_idx, val_idx = validation_split(np.asarray(train.y), 0.1, 0)
    np.testing.assert_array_equal(cnn.validation_indices_, val_idx)
    assert not set(train_idx) & set(val_idx) and len(train_idx) + len(val_idx) == len(train)


def test_validation_split_is_stratified_and_seeded():
    y = np.repeat(np.arange(4), 10)
    _, val = validation_split(y, 0.2, 0)
    assert np.bincount(y[val]).tolist() == [2, 2, 2, 2]
    np.testing.assert_array_equal(validation_split(y, 0.2, 0)[1], val)


def test_early_stopping_keeps_the_best_epoch(cnn, tiny_faces):
    val_accuracy = cnn.history_["val_accuracy"]
    assert cnn.best_epoch_ == 1 + int(np.argmax(val_accuracy))
    # patience=1: training stops one epoch after the best one, or at the last epoch
    assert cnn.n_epochs_ in (min(cnn.best_epoch_ + 1, TINY_CNN["epochs"]), TINY_CNN["epochs"])
    # the kept weights are the best epoch's: they score its validation accuracy again
    val = cnn.validation_indices_
    train = tiny_faces.select("train")
    proba = cnn.head_predict_proba(train.X[val])
    accuracy = np.mean(cnn.classes_[proba.argmax(axis=1)] == train.y[val])
    assert accuracy == pytest.approx(max(val_accuracy), abs=1e-6)


def test_cnn_head_predicts_the_classes(cnn, tiny_faces):
    proba = cnn.head_predict_proba(tiny_faces.select("test").X)
    assert proba.shape == (len(tiny_faces.select("test")), len(cnn.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_cnn_needs_labels(images):
    with pytest.raises(ValueError, match="requires y to be passed"):
        CNNFeatures(**TINY_CNN).fit(images)


@pytest.mark.parametrize("params, message", [
    ({"convs_per_block": (1, 2, 3)}, "convs_per_block must be a positive integer or 2"),
    ({"blocks": ()}, "The 'blocks' parameter of CNNFeatures must be a tuple of one or more items"),
    ({"schedule": "step"}, "The 'schedule' parameter of CNNFeatures must be a str among"),
    ({"validation_fraction": 1.5}, "The 'validation_fraction' parameter of CNNFeatures must be a float in"),
    ({"dropout": 1.0}, r"The 'dropout' parameter of CNNFeatures must be a float in the range \[0.0, 1.0\)"),
])
def test_cnn_invalid_parameters_are_named(tiny_faces, params, message):
    train = tiny_faces.select("train")
    with pytest.raises(ValueError, match=message):
        CNNFeatures(**{**TINY_CNN, **params}).fit(train.X, train.y)


def test_cnn_pipeline_survives_joblib(tiny_faces, tmp_path):
    train, test = tiny_faces.select("train"), tiny_faces.select("test")
    pipe = fer_pipeline("cnn", "svm").set_params(**{f"features__{k}": v for k, v in TINY_CNN.items()})
    pipe.fit(train.X, train.y)
    joblib.dump(pipe, tmp_path / "cnn.joblib")
    loaded = joblib.load(tmp_path / "cnn.joblib")
    np.testing.assert_array_equal(loaded.predict(test.X), pipe.predict(test.X))
    assert deep_metadata(loaded)[0]["extractor"] == "CNNFeatures"


@pytest.mark.parametrize("wrap", ["flip", "mirror views"])
def test_deep_metadata_reads_the_fitted_extractor_inside_a_wrapper(tiny_faces, wrap):
    """fit --features cnn --flip trained everything, then failed: the wrapper's unfitted template was read."""
    from fer_classic.preprocessing import MirrorViews

    train = tiny_faces.select("train")
    if wrap == "flip":
        model = fer_pipeline("cnn", "knn", flip=True).set_params(
            **{f"estimator__features__{k}": v for k, v in TINY_CNN.items()})
    else:
        model = MirrorViews(CNNFeatures(**TINY_CNN))
    model.fit(train.X, train.y)
    assert [d["extractor"] for d in deep_metadata(model)] == ["CNNFeatures"]


# --- fitted state (findings of the deep-features probe) --------------------------------------
def test_deep_parameters_changed_after_fit_change_nothing_before_or_after_pickling(images):
    extractor = DeepFeatures(weights=None, input_size=32, layer="block1_pool", verbose=False).fit(images[:4])
    features = extractor.transform(images[:4])
    extractor.set_params(pooling="max", backbone="vgg19")
    np.testing.assert_array_equal(extractor.transform(images[:4]), features)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(extractor)).transform(images[:4]), features)
    assert extractor.describe()["pooling"] == "avg" and extractor.get_feature_names_out()[0] == "vgg16_0"


def test_cnn_architecture_changed_after_fit_changes_nothing_after_pickling(images):
    y = np.arange(4) % 2
    cnn = CNNFeatures(blocks=(4,), convs_per_block=1, dense_units=4, epochs=1, validation_fraction=None)
    features = cnn.fit(images[:4], y).transform(images[:4])
    cnn.set_params(dense_units=8, blocks=(4, 8), dropout=0.5)
    clone = pickle.loads(pickle.dumps(cnn))
    np.testing.assert_array_equal(clone.transform(images[:4]), features)
    assert clone.describe()["blocks"] == [4]


@pytest.mark.parametrize("extractor", [DeepFeatures(weights=None, input_size=32),
                                       CNNFeatures(blocks=(4,), convs_per_block=1, dense_units=4, epochs=1)],
                         ids=["DeepFeatures", "CNNFeatures"])
@pytest.mark.parametrize("n_pixels, hint", [(40 * 48, r"image_shape=\(h, w\) with h \* w == 1920"),
                                            (48 * 48 * 3, "flattened colour images: convert them to gray")])
def test_rows_that_are_no_square_image_are_refused(extractor, n_pixels, hint):
    # They were read as one 1 x n strip: convolutions over a one-pixel-high image, garbage features.
    X, y = random_gray((4, n_pixels)), np.arange(4) % 2
    with pytest.raises(ValueError, match=hint):
        extractor.fit(X, y)


def test_rows_of_another_shape_are_taken_with_their_image_shape():
    extractor = DeepFeatures(weights=None, input_size=32, layer="block1_pool", image_shape=(40, 48)).fit(
        random_gray((2, 40 * 48)))
    assert extractor.image_shape_ == (40, 48)


def test_cnn_describe_before_fit_is_not_fitted_error():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        CNNFeatures().describe()


@pytest.mark.parametrize("random_state", [None, np.random.RandomState(0)], ids=["None", "RandomState"])
def test_random_state_none_or_a_random_state_is_accepted(images, random_state):
    # Refused as "must be an int in the range [0, inf)", though make_pipeline(random_state=None) passes None down.
    deep = DeepFeatures(weights=None, input_size=32, layer="block1_pool", random_state=random_state).fit(images[:2])
    assert deep.weights_source_.startswith("random (seed ")
    cnn = CNNFeatures(blocks=(4,), convs_per_block=1, dense_units=4, epochs=1, validation_fraction=None,
                      random_state=random_state).fit(images[:4], np.arange(4) % 2)
    assert isinstance(cnn.random_seed_, int)


def test_an_int_random_state_is_the_seed(images):
    cnn = CNNFeatures(blocks=(4,), convs_per_block=1, dense_units=4, epochs=1, validation_fraction=None,
                      random_state=7).fit(images[:4], np.arange(4) % 2)
    assert cnn.random_seed_ == 7
    assert DeepFeatures(weights=None, layer="block1_pool", random_state=7).fit(images[:1]).weights_source_ == (
        "random (seed 7)")


def test_keras_model_of_another_backbone_is_refused(images, tmp_path):
    # Every VGG16 layer name is in VGG19 with the same shape: its weights were copied into VGG16 silently.
    _vgg_weights_file(tmp_path / "vgg19.keras", backbone="vgg19")
    with pytest.raises(ValueError, match=r"is not a saved VGG16 model: it has layers \['block3_conv4'"):
        DeepFeatures(weights=tmp_path / "vgg19.keras", input_size=32).fit(images[:1])


def test_damaged_keras_file_gets_the_library_message(images, tmp_path):
    (tmp_path / "damaged.keras").write_bytes(b"PK not a zip" * 100)
    with pytest.raises(ValueError, match=r"damaged.keras' is not a readable .keras model .*damaged or not a Keras"):
        DeepFeatures(weights=tmp_path / "damaged.keras", input_size=32).fit(images[:1])


def test_cache_dir_that_is_a_file_is_refused_in_fit(images, tmp_path):
    (tmp_path / "face.png").write_bytes(b"not a folder")
    with pytest.raises(ValueError, match=r"cache_dir=.*face.png' is not a folder"):
        DeepFeatures(cache_dir=tmp_path / "face.png", **SMALL).fit(images[:1])


def test_damaged_feature_cache_file_is_recomputed(images, tmp_path):
    extractor = DeepFeatures(cache_dir=tmp_path, **SMALL).fit(images[:2])
    first = extractor.transform(images[:2])
    (cached,) = tmp_path.glob("vgg16-*.npy")
    cached.write_bytes(b"garbage")
    np.testing.assert_array_equal(extractor.transform(images[:2]), first)
    np.testing.assert_array_equal(np.load(cached), first)  # rewritten


def test_batches_of_any_size_are_traced_once(images):
    # Each new batch size retraced the graph, and TensorFlow warned about "retracing" to users.
    extractor = DeepFeatures(**SMALL).fit(images[:1])
    for n in (1, 2, 3, 5):
        extractor.transform(images[:n])
    assert extractor._forward_fn.experimental_get_tracing_count() == 1


def _fail_past_the_memory_check(monkeypatch, extractor):
    """Fail the test if ``fit`` goes past its memory check: training the CNN, or keeping VGG's network."""
    import keras

    monkeypatch.setattr(keras.Model, "fit", lambda *a, **k: pytest.fail("trained the network"))
    monkeypatch.setattr(type(extractor), "_compile_forward", lambda self: pytest.fail("kept the network"))


@pytest.mark.parametrize("extractor", [DeepFeatures(**SMALL), CNNFeatures(**TINY_CNN)],
                         ids=["DeepFeatures", "CNNFeatures"])
def test_a_batch_larger_than_the_memory_is_refused_before_work(images, monkeypatch, extractor):
    # Nothing checked it: a large input_size / --size was OOM-killed without a message.
    monkeypatch.setattr("fer_classic._resources.available_memory", lambda: 1000)
    _fail_past_the_memory_check(monkeypatch, extractor)
    with pytest.raises(MemoryError, match=r"one batch of \d+ images of 48x48.*smaller batch_size"):
        extractor.fit(images, np.arange(10) % 2)


class _Trained(Exception):
    """Raised instead of training: the memory check let the batch through."""


@pytest.mark.parametrize("extractor", [DeepFeatures(weights=None, verbose=False), CNNFeatures()],
                         ids=["DeepFeatures", "CNNFeatures"])
def test_the_48px_defaults_fit_in_1_gib(images, monkeypatch, extractor):
    # Their batches need about 0.07 GiB (VGG16, 64 images) and 0.6 GiB (the CNN training 128 images).
    import keras

    monkeypatch.setattr("fer_classic._resources.available_memory", lambda: 2**30)
    monkeypatch.setattr(keras.Model, "fit", lambda *a, **k: (_ for _ in ()).throw(_Trained()))
    monkeypatch.setattr(type(extractor), "_compile_forward", lambda self: None)
    X = random_gray((256, 48 * 48), seed=1)
    try:
        extractor.fit(X, np.arange(256) % 2)
    except _Trained:
        pass


@pytest.mark.parametrize("extractor, advice", [
    (DeepFeatures(**SMALL), r"smaller batch_size or input_size.*vgg16.batch_size / vgg16.input_size in a search's"),
    (CNNFeatures(**TINY_CNN), r"smaller batch_size or smaller images \(CLI: a smaller --size, or cnn.batch_size in"),
], ids=["DeepFeatures", "CNNFeatures"])
def test_the_memory_advice_names_the_extractors_own_parameters(images, monkeypatch, extractor, advice):
    # CNNFeatures was told to lower an input_size it has not, and `fit` was said to set batch_size.
    monkeypatch.setattr("fer_classic._resources.available_memory", lambda: 1000)
    with pytest.raises(MemoryError, match=advice):
        extractor.fit(images, np.arange(10) % 2)


def test_the_memory_check_leaves_a_gpu_network_to_the_gpu(vgg16, monkeypatch):
    # On a GPU the activations are in its memory: a host with little free RAM was refused wrongly.
    monkeypatch.setattr("fer_classic._resources.available_memory", lambda: 1000)
    monkeypatch.setattr(vgg16, "device_", "/GPU:0")
    vgg16._check_batch_memory(vgg16.model_, 64)


def test_repeated_fits_do_not_warn_about_retracing(images, caplog):
    # TensorFlow's "triggered tf.function retracing" warning came after five fits in a loop (a search's CV).
    for _ in range(6):
        DeepFeatures(weights=None, layer="block1_pool", input_size=32, verbose=False).fit(images[:1]).transform(
            images[:1])
    assert "retracing" not in caplog.text


def test_make_features_seeds_the_cnn_as_make_pipeline_does():
    # make_features' default None drew a new seed at every fit, unlike CNNFeatures() and make_pipeline (0).
    assert make_features("cnn").random_state == 0


def test_cnn_describe_records_its_seed(cnn):
    # A seed drawn for random_state=None was in random_seed_ only, not in the model file's metadata.
    assert cnn.describe()["random_seed"] == cnn.random_seed_ == 0


def test_a_cnn_pickled_before_the_fitted_architecture_was_kept_still_predicts(cnn, tiny_faces):
    # Pickles made before blocks_, convs_per_block_, dense_units_, dropout_ and random_seed_ existed.
    state = cnn.__getstate__()
    for name in ("blocks_", "convs_per_block_", "dense_units_", "dropout_", "random_seed_"):
        del state[name]
    old = CNNFeatures.__new__(CNNFeatures)
    old.__setstate__(state)
    X = tiny_faces.select("test").X[:2]
    np.testing.assert_allclose(old.transform(X), cnn.transform(X), rtol=1e-5, atol=1e-6)
    assert old.describe()["random_seed"] == 0
