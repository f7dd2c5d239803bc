"""Saved SVM models keep their support vectors as compact codes that rebuild them bit for bit."""

import pickle

import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from fer_classic import make_pipeline
from fer_classic.estimators import PrecomputedKernelSVC, compact_support_vectors
from fer_classic.estimators import _precomputed_svc
from fer_classic.estimators._precomputed_svc import _exact_svm
from fer_classic.features import DenseSIFTBoVW, DenseSIFTVLAD, HOGFeatures
from fer_classic.persistence import component_sizes, format_model_info, inspect_model, load_model, save_model


@pytest.fixture(scope="module")
def train(tiny_faces):
    return tiny_faces.select("train")


@pytest.fixture
def fitted(train):
    return make_pipeline("hog", "svm").fit(train.X, train.y)


@pytest.mark.parametrize("dtype", [np.uint8, np.float64, np.float32])
def test_hog_cells_rebuild_the_descriptors_bit_for_bit(train, dtype):
    X = train.X.astype(dtype) / (1 if dtype == np.uint8 else 3.0)
    hog = HOGFeatures().fit(X)
    codes = hog.encode_compact(X)
    assert codes.dtype == np.float32 and hog.transform(X).nbytes == 8 * codes.nbytes  # 3 x 3 blocks, float64
    np.testing.assert_array_equal(hog.decode_compact(codes), hog.transform(X))


# A small codebook on a coarse grid: seconds, not minutes.
SMALL_SIFT = {"step": 8, "n_words": 16, "max_descriptors": 2000}


def _small_sift(pipeline):
    for key, value in pipeline.get_params().items():
        if isinstance(value, DenseSIFTBoVW):
            pipeline.set_params(**{f"{key}__{k}": v for k, v in SMALL_SIFT.items()})
        elif isinstance(value, DenseSIFTVLAD):  # 4 words in 8 dimensions on the coarse grid
            pipeline.set_params(**{f"{key}__{k}": v for k, v in {"step": 8, "n_words": 4, "n_components": 8}.items()})
    return pipeline


@pytest.mark.parametrize("params", [{}, {"assignment": "hard", "levels": (1, 3)},
                                    {"histogram": "presence", "norm": None}, {"power": 1.0}])
def test_sift_votes_rebuild_the_words_bit_for_bit(train, params):
    sift = DenseSIFTBoVW(**SMALL_SIFT, **params, random_state=0).fit(train.X)
    codes = sift.encode_compact(train.X)
    features = sift.transform(train.X)
    assert codes["values"].dtype == np.float32 and len(codes["values"]) == np.count_nonzero(features)
    np.testing.assert_array_equal(sift.decode_compact(codes), features)


@pytest.mark.parametrize("params", [{}, {"power": 1.0}, {"levels": (1, 3), "n_components": 5}])
def test_vlad_sums_rebuild_the_features_bit_for_bit(train, params):
    vlad = DenseSIFTVLAD(**{"step": 8, "n_words": 4, "n_components": 8, **params}, random_state=0).fit(train.X)
    codes = vlad.encode_compact(train.X)
    features = vlad.transform(train.X)
    assert codes.dtype == np.float32 and features.nbytes == 2 * codes.nbytes
    np.testing.assert_array_equal(vlad.decode_compact(codes), features)


def test_a_hog_svm_keeps_codes(fitted, train):
    assert compact_support_vectors(fitted, train.X)
    assert _exact_svm(fitted[-1]).support_codes_.dtype == np.float32


def test_the_pickle_holds_codes_not_vectors(fitted, train):
    svm = _exact_svm(fitted[-1])
    before = len(pickle.dumps(svm))
    compact_support_vectors(fitted, train.X)
    state = svm.__getstate__()
    assert "support_vectors_" not in state and "support_norms_" not in state
    assert len(pickle.dumps(svm)) < before / 2


def test_a_reloaded_compact_model_predicts_the_same(fitted, train, tiny_faces):
    test = tiny_faces.select("test")
    expected = fitted.predict(test.X), fitted.decision_function(test.X)
    compact_support_vectors(fitted, train.X)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict(test.X), expected[0])
    np.testing.assert_array_equal(again.decision_function(test.X), expected[1])


def test_reloaded_support_vectors_are_the_fitted_ones(fitted, train):
    original = _exact_svm(fitted[-1]).support_vectors_.copy()
    compact_support_vectors(fitted, train.X)
    np.testing.assert_array_equal(_exact_svm(pickle.loads(pickle.dumps(fitted))[-1]).support_vectors_, original)


def test_support_vectors_rebuilt_in_blocks_are_the_fitted_ones(fitted, train, monkeypatch):
    monkeypatch.setattr(_precomputed_svc, "_DECODE_ROWS", 5)  # several blocks, the last one short
    svm = _exact_svm(fitted[-1])
    original = svm.support_vectors_.copy()
    assert len(original) % 5 and compact_support_vectors(fitted, train.X)
    np.testing.assert_array_equal(_exact_svm(pickle.loads(pickle.dumps(fitted))[-1]).support_vectors_, original)


@pytest.mark.parametrize("change", ["last row", "one row more", "one row less"])
def test_codes_checked_in_blocks_are_refused_when_a_late_block_differs(fitted, train, monkeypatch, change):
    monkeypatch.setattr(_precomputed_svc, "_DECODE_ROWS", 5)
    svm = _exact_svm(fitted[-1])
    hog = fitted.named_steps["features"]
    codes = hog.encode_compact(train.X[svm.support_])
    if change == "last row":
        codes[-1] += 1.0
    else:
        codes = np.concatenate([codes, codes[:1]]) if change == "one row more" else codes[:-1]
    assert not svm.compact_support(codes, Pipeline(fitted.steps[:-1]))


@pytest.mark.parametrize("features", ["lbp", "pixels"])
def test_features_without_codes_keep_their_vectors(train, features):
    pipeline = make_pipeline(features, "svm").fit(train.X, train.y)
    assert not compact_support_vectors(pipeline, train.X)
    assert "support_vectors_" in _exact_svm(pipeline[-1]).__getstate__()


def test_other_rows_than_the_training_rows_are_refused(fitted, train):
    assert not compact_support_vectors(fitted, train.X[:-1])


def test_augmented_training_rows_are_refused(train):
    pipeline = make_pipeline("hog", "svm", flip=True).fit(train.X, train.y)
    assert not compact_support_vectors(pipeline, train.X)


def test_codes_that_do_not_rebuild_exactly_are_refused(train):
    X = HOGFeatures().fit(train.X)
    features = X.transform(train.X)
    svm = PrecomputedKernelSVC().fit(features, train.y)
    other_scaler = StandardScaler().fit(features)  # the SVM saw unscaled features
    decoder = Pipeline([("features", X), ("scale", other_scaler)])
    assert not svm.compact_support(X.encode_compact(train.X[svm.support_]), decoder)
    assert not hasattr(svm, "support_codes_")


@pytest.mark.parametrize("n_classes", [2, 3])
def test_models_saved_with_one_multiclass_svc_still_load(n_classes):
    rng = np.random.default_rng(0)
    y = np.arange(60) % n_classes
    X = rng.normal(size=(60, 4)) + y[:, None]
    new = PrecomputedKernelSVC(C=3).fit(X, y)
    svc = SVC(C=3, kernel="precomputed").fit(np.exp(-new.gamma_ * ((X[:, None] - X[None]) ** 2).sum(-1)), y)
    old = {k: v for k, v in new.__dict__.items() if k not in ("pairs_", "dual_coef_", "intercept_", "n_support_")}
    old["svc_"] = svc
    restored = PrecomputedKernelSVC.__new__(PrecomputedKernelSVC)
    restored.__setstate__(old)
    X_new = rng.normal(size=(20, 4))
    K_new = np.exp(-new.gamma_ * ((X_new[:, None] - X[None]) ** 2).sum(-1))
    np.testing.assert_array_equal(restored.predict(X_new), svc.predict(K_new))
    # Kernel rows in float32 products (float64 distances): decisions within ~1e-6.
    np.testing.assert_allclose(restored.decision_function(X_new), svc.decision_function(K_new), atol=1e-5)


def test_sizes_name_the_steps_and_the_large_arrays(fitted, train, monkeypatch):
    from fer_classic.persistence import _inspect

    monkeypatch.setattr(_inspect, "_LISTED_BYTES", 1000)
    compact_support_vectors(fitted, train.X)
    sizes = component_sizes(fitted)
    assert list(sizes["steps"]) == [name for name, _ in fitted.steps]
    assert "clf.estimator_.estimator_.support_codes_" in sizes["arrays"]
    assert not any(name.endswith("support_vectors_") for name in sizes["arrays"])


def test_inspect_shows_the_file_size_and_the_sizes(fitted, train, tmp_path):
    from fer_classic.persistence import FERModel

    model = FERModel.from_fitted(fitted, train, features="hog", clf="svm", source="tiny")
    path = save_model(model, tmp_path / "m.joblib")
    text = format_model_info(inspect_model(path))
    assert "file size" in text and "in memory      features" in text
    assert load_model(path).metadata["sizes"]["steps"]["clf"] > 0


@pytest.mark.parametrize("suffix", ["joblib", "skops"])
def test_both_file_formats_keep_the_codes_and_the_predictions(fitted, train, tiny_faces, tmp_path, suffix):
    from fer_classic.persistence import FERModel

    compact_support_vectors(fitted, train.X)
    model = FERModel.from_fitted(fitted, train, features="hog", clf="svm", source="tiny")
    loaded = load_model(save_model(model, tmp_path / f"m.{suffix}"))
    test = tiny_faces.select("test")
    assert hasattr(_exact_svm(loaded.pipeline[-1]), "support_codes_")
    np.testing.assert_array_equal(loaded.pipeline.decision_function(test.X), fitted.decision_function(test.X))


# --- Unions: each block keeps its own codes ------------------------------------

@pytest.fixture(scope="module")
def sift_models(train):
    """Fitted (not compacted) SVMs on HOG + SIFT (block scaling, one scaler), SIFT alone and HOG + VLAD."""
    specs = {"hog+sift": ("hog+sift", True), "hog+sift one scaler": ("hog+sift", False), "sift": ("sift", False),
             "hog+vlad": ("hog+vlad", True)}
    return {name: _small_sift(make_pipeline(features, "svm", block_scaling=scaling)).fit(train.X, train.y)
            for name, (features, scaling) in specs.items()}


@pytest.fixture(params=["hog+sift", "hog+sift one scaler", "sift", "hog+vlad"])
def sift_model(request, sift_models):
    """A fresh copy of one of ``sift_models``: compacting changes it."""
    return request.param, pickle.loads(pickle.dumps(sift_models[request.param]))


def test_sift_models_keep_codes_that_rebuild_the_support_vectors(sift_model, train):
    name, pipeline = sift_model
    svm = _exact_svm(pipeline[-1])
    original = svm.support_vectors_.copy()
    assert compact_support_vectors(pipeline, train.X)
    codes = svm.support_codes_
    if name == "sift":
        assert set(codes) == {"nonzero", "values"}
    elif name == "hog+vlad":
        assert codes["hog"].dtype == codes["vlad"].dtype == np.float32
    else:  # one entry per block, each its own kind of codes
        assert codes["hog"].dtype == np.float32 and set(codes["sift"]) == {"nonzero", "values"}
    assert "support_vectors_" not in svm.__getstate__()
    np.testing.assert_array_equal(_exact_svm(pickle.loads(pickle.dumps(pipeline))[-1]).support_vectors_, original)


@pytest.mark.parametrize("suffix", ["joblib", "skops"])
def test_sift_models_predict_the_same_after_both_file_formats(sift_model, train, tiny_faces, tmp_path, suffix):
    from fer_classic.persistence import FERModel

    name, pipeline = sift_model
    test = tiny_faces.select("test")
    expected = pipeline.predict(test.X), pipeline.decision_function(test.X)
    assert compact_support_vectors(pipeline, train.X)
    model = FERModel.from_fitted(pipeline, train, features=name.split()[0], clf="svm", source="tiny")
    loaded = load_model(save_model(model, tmp_path / f"m.{suffix}")).pipeline
    assert hasattr(_exact_svm(loaded[-1]), "support_codes_")
    np.testing.assert_array_equal(loaded.predict(test.X), expected[0])
    np.testing.assert_array_equal(loaded.decision_function(test.X), expected[1])


def test_a_block_without_codes_keeps_its_float64_output(train, tiny_faces):
    pipeline = make_pipeline("hog+lbp", "svm", block_scaling=True).fit(train.X, train.y)
    test = tiny_faces.select("test")
    expected = pipeline.decision_function(test.X)
    union, svm = pipeline.named_steps["features"], _exact_svm(pipeline[-1])
    assert compact_support_vectors(pipeline, train.X)
    lbp = union.transformer_list[1][1]
    np.testing.assert_array_equal(svm.support_codes_["lbp"], lbp.transform(train.X[svm.support_]))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(pipeline)).decision_function(test.X), expected)


@pytest.mark.parametrize("features", ["lbp+pixels", "hog+gabor"])
def test_a_union_without_codes_or_with_a_slow_block_is_left_alone(train, features):
    # hog+gabor: the Gabor block would run again on the support vectors' images only to be kept as it is.
    pipeline = make_pipeline(features, "svm", block_scaling=True).fit(train.X, train.y)
    assert not compact_support_vectors(pipeline, train.X)
    assert "support_vectors_" in _exact_svm(pipeline[-1]).__getstate__()


def test_sizes_name_each_block_of_a_union(sift_models, train, monkeypatch):
    from fer_classic.persistence import _inspect

    monkeypatch.setattr(_inspect, "_LISTED_BYTES", 100)
    pipeline = pickle.loads(pickle.dumps(sift_models["hog+sift"]))
    assert compact_support_vectors(pipeline, train.X)
    codes = "clf.estimator_.estimator_.support_codes_"
    sizes = component_sizes(pipeline)
    blocks = {f"{codes}.hog", f"{codes}.sift.values", f"{codes}.sift.nonzero"}
    assert blocks <= set(sizes["arrays"]) and blocks <= set(sizes["compressed"]["arrays"])


def test_inspect_shows_each_block_in_the_file(sift_models, train, tmp_path, monkeypatch):
    from fer_classic.persistence import FERModel, _inspect

    monkeypatch.setattr(_inspect, "_LISTED_BYTES", 100)
    pipeline = pickle.loads(pickle.dumps(sift_models["hog+sift"]))
    assert compact_support_vectors(pipeline, train.X)
    model = FERModel.from_fitted(pipeline, train, features="hog+sift", clf="svm", source="tiny")
    for name in ("m.joblib", "m.skops"):  # both formats compress their arrays
        text = format_model_info(inspect_model(save_model(model, tmp_path / name)))
        assert "in the file    features" in text
        for block in ("hog", "sift.values", "sift.nonzero"):
            line = next(line for line in text.splitlines() if f"support_codes_.{block}: " in line)
            assert line.endswith(" in the file")


def test_skops_files_are_compressed(sift_models, train, tmp_path):
    import zipfile

    from fer_classic.persistence import FERModel

    model = FERModel.from_fitted(sift_models["hog+sift"], train, features="hog+sift", clf="svm", source="tiny")
    with zipfile.ZipFile(save_model(model, tmp_path / "m.skops")) as archive:
        members = [m for m in archive.infolist() if m.file_size > 10_000]
    assert members and all(m.compress_type == zipfile.ZIP_DEFLATED for m in members)


def test_compressed_sizes_are_estimated_closely(monkeypatch):
    import zlib

    from fer_classic.persistence import _inspect

    monkeypatch.setattr(_inspect, "_SAMPLE_BYTES", 2**12)
    rng = np.random.default_rng(0)
    votes = np.where(rng.random((400, 256)) < 0.6, 0, rng.random((400, 256))).astype(np.float32)  # sparse rows
    estimate = _inspect._compressed_bytes(votes)
    assert abs(estimate / len(zlib.compress(votes.tobytes(), 3)) - 1) < 0.05
    assert _inspect._compressed_bytes(votes[:4]) == len(zlib.compress(votes[:4].tobytes(), 3))  # small: whole


@pytest.mark.parametrize("value, shown", [
    ({"PublicTest": {"accuracy": 0.5, "n": 4}, "PrivateTest": {"accuracy": 0.25, "n": 4}},
     "PublicTest accuracy 0.5000 (n=4), PrivateTest accuracy 0.2500 (n=4)"),
    ({"PublicTest": "high"}, "accuracy_by_group {'PublicTest': 'high'}"),
], ids=["halves", "a stranger's text"])
def test_inspect_shows_the_accuracy_of_each_group(value, shown):
    from fer_classic.persistence._inspect import _metric_text

    assert _metric_text("accuracy_by_group", value) == shown
