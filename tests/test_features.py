import numpy as np
import pytest
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from conftest import random_gray
from fer_classic import make_pipeline
from fer_classic.features import (
    BlockScaledUnion,
    GaborFeatures,
    HOGFeatures,
    LBPFeatures,
    PixelFeatures,
    infer_image_shape,
    make_features,
)


@pytest.mark.parametrize("n, shape, expected", [(2304, None, (48, 48)), (12, (3, 4), (3, 4)), (10, None, (1, 10))])
def test_infer_image_shape(n, shape, expected):
    assert infer_image_shape(n, shape) == expected


def test_image_shape_that_does_not_match_row_length_is_an_error():
    with pytest.raises(ValueError, match=r"image_shape=\(4, 4\) holds 16 pixels but X has 15"):
        PixelFeatures(image_shape=(4, 4)).fit(np.zeros((2, 15)))


@pytest.mark.parametrize("scale, low, high", [("unit", 0.0, 1.0), ("centered", -1.0, 1.0), ("none", 0.0, 255.0)])
def test_pixel_scale_is_a_fixed_constant(scale, low, high):
    X = np.array([[0, 255, 0, 255]], dtype=np.uint8)
    out = PixelFeatures(scale=scale).fit(np.zeros((1, 4))).transform(X)
    assert out.min() == low and out.max() == high


_STORED = {
    "floats in 0..1": lambda x: x / 255.0,
    "16-bit": lambda x: x.astype(np.uint16) * 257,
}


@pytest.mark.parametrize("stored", list(_STORED.values()), ids=list(_STORED))
@pytest.mark.parametrize("transformer", [
    PixelFeatures(), PixelFeatures(scale="centered"), HOGFeatures(), LBPFeatures(), GaborFeatures(norm=None),
], ids=["pixels", "pixels centered", "hog", "lbp", "gabor unnormalised"])
def test_faces_stored_in_other_depths_give_the_features_of_their_8_bit_levels(transformer, stored):
    # Read as they were given: pixels of 0..1 faces up to 1/255 (a model fitted on 8-bit faces predicted one
    # class), unnormalised Gabor magnitudes 255 times smaller.
    X = random_gray((4, 48 * 48))
    fitted = clone(transformer).fit(X)
    np.testing.assert_allclose(fitted.transform(stored(X)), fitted.transform(X), rtol=1e-6, atol=1e-9)


def test_a_dark_face_cropped_is_not_read_again_as_0_1():
    # The crop's float output of an 8-bit face of levels 0..1 peaks under 2 (here 1.8): read as 0..1, the
    # features after it multiplied it by 255.
    from fer_classic.preprocessing import BorderCrop

    X = np.zeros((1, 48 * 48), dtype=np.uint8)
    X[0, 1000:1100] = 1
    X[0, 1050] = 2
    cropped = BorderCrop().fit_transform(X)
    assert 1 < cropped.max() < 2
    np.testing.assert_array_equal(PixelFeatures(scale="none").fit(cropped).transform(cropped), cropped)


def test_boolean_pixels_are_levels_0_and_255():
    X = random_gray((2, 36))
    np.testing.assert_array_equal(PixelFeatures().fit(X).transform(X > 127), (X > 127).astype(float))


@pytest.mark.parametrize("transformer, n_out", [
    (HOGFeatures(), 1296), (LBPFeatures(), 360), (PixelFeatures(), 2304),
])
def test_default_output_width_on_48x48(transformer, n_out):
    out = transformer.fit_transform(random_gray((3, 2304)))
    assert out.shape == (3, n_out) and out.dtype == np.float64
    assert len(transformer.get_feature_names_out()) == n_out


@pytest.mark.parametrize("transformer", [HOGFeatures(), LBPFeatures(), PixelFeatures()], ids=lambda t: type(t).__name__)
def test_input_features_of_the_wrong_length_are_refused(transformer):
    # They were ignored; scikit-learn's transformers refuse them.
    transformer.fit(random_gray((2, 2304)))
    assert len(transformer.get_feature_names_out([f"p{i}" for i in range(2304)])) == transformer.n_features_out_
    with pytest.raises(ValueError, match=r"input_features should have length equal to number of features \(2304\)"):
        transformer.get_feature_names_out(["a", "b"])


def test_hog_on_images_too_small_for_a_block_says_what_to_change():
    with pytest.raises(ValueError, match=r"fewer than one block.*at least 24x24 pixels \(--size"):
        HOGFeatures().fit(np.zeros((2, 100)))


def test_parallel_transform_equals_serial():
    X = random_gray((300, 2304), seed=3)
    serial = HOGFeatures(n_jobs=1).fit(X).transform(X)
    parallel = HOGFeatures(n_jobs=2).fit(X).transform(X)
    np.testing.assert_allclose(parallel, serial)


def test_combined_features_concatenate_in_order():
    X = random_gray((4, 2304))
    union = make_features("hog+lbp")
    assert isinstance(union, FeatureUnion)
    np.testing.assert_allclose(
        union.fit_transform(X),
        np.hstack([HOGFeatures().fit_transform(X), LBPFeatures().fit_transform(X)]),
    )


@pytest.mark.parametrize("spec, message", [
    ("surf", "Unknown features surf"), ("hog+hog", "twice"), ("", "Unknown"),
    ("hog+", "Features 'hog\\+' hold an empty name"), ("+lbp", "Features '\\+lbp' hold an empty name"),
    ("hog++lbp", "Features 'hog\\+\\+lbp' hold an empty name"),
])
def test_bad_feature_specs_are_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        make_features(spec)


def test_pca_features_are_fitted_inside_the_pipeline():
    pca = make_features("pca")
    assert isinstance(pca, Pipeline) and isinstance(pca[-1], PCA)


def test_pca_features_do_not_depend_on_the_training_rows_order():
    # The randomized solver's last components changed with the order (a shuffled CSV flipped 8 % of the labels).
    from fer_classic.data import make_synthetic_faces

    X = make_synthetic_faces(30, 0, size=24, random_state=3).X  # 576 pixels: a small covariance to decompose
    order = np.random.default_rng(0).permutation(len(X))
    a, b = make_features("pca").fit(X), make_features("pca").fit(X[order])
    np.testing.assert_allclose(a.transform(X), b.transform(X), atol=1e-6)


def test_transformers_work_in_grid_search(tiny_faces):
    train = tiny_faces.select("train")
    pipe = Pipeline([("hog", HOGFeatures()), ("clf", LinearSVC())])
    search = GridSearchCV(pipe, {"hog__orientations": [6, 9]}, cv=2).fit(train.X, train.y)
    assert search.best_params_["hog__orientations"] in (6, 9)


def test_block_scaled_union_gives_every_block_unit_total_variance():
    X = random_gray((40, 64), seed=4).astype(float)
    union = BlockScaledUnion([("pixels", PixelFeatures()), ("pca", PCA(n_components=3))])
    out = union.fit_transform(X)
    assert out.shape == (40, 67)
    np.testing.assert_allclose([out[:, :64].var(axis=0).sum(), out[:, 64:].var(axis=0).sum()], [1.0, 1.0])
    np.testing.assert_allclose(union.transform(X), out)


def test_block_scaled_union_weights_multiply_the_balanced_blocks():
    X = random_gray((20, 16), seed=4).astype(float)
    plain = BlockScaledUnion([("a", PixelFeatures()), ("b", PCA(n_components=2))]).fit_transform(X)
    weighted = BlockScaledUnion([("a", PixelFeatures()), ("b", PCA(n_components=2))],
                                transformer_weights={"b": 3.0}).fit_transform(X)
    np.testing.assert_allclose(weighted, np.hstack([plain[:, :16], 3 * plain[:, 16:]]))


def test_normalised_block_is_centred_not_standardised():
    X = random_gray((40, 64), seed=4).astype(float)
    union = BlockScaledUnion([("pixels", PixelFeatures()), ("pca", PCA(n_components=3))],
                             normalised_blocks=("pixels",))
    out = union.fit_transform(X)
    pixels = X / 255.0
    centred = pixels - pixels.mean(axis=0)
    # One factor for the whole block keeps its columns' relative scales.
    np.testing.assert_allclose(out[:, :64], centred / np.sqrt(centred.var(axis=0).sum()))
    np.testing.assert_allclose([out[:, :64].var(axis=0).sum(), out[:, 64:].var(axis=0).sum()], [1.0, 1.0])


def test_unknown_normalised_block_is_an_error():
    union = BlockScaledUnion([("pixels", PixelFeatures())], normalised_blocks=("sift",))
    with pytest.raises(ValueError, match=r"normalised_blocks names \['sift'\]"):
        union.fit(random_gray((5, 16), seed=1).astype(float))


@pytest.mark.parametrize("spec, expected", [("hog+sift", ("sift",)), ("hog+vlad", ("vlad",)), ("hog+lbp", ())])
def test_block_scaling_leaves_sift_histograms_unstandardised(spec, expected):
    assert make_features(spec, block_scaling=True).normalised_blocks == expected


def test_block_scaled_pipeline_keeps_extractor_parameter_names():
    pipe = make_pipeline("hog+lbp", "linear-svm", block_scaling=True)
    assert isinstance(pipe["features"], BlockScaledUnion) and pipe["scale"] == "passthrough"
    pipe.set_params(features__hog__orientations=6, features__lbp__R=2.0)  # as grid search names them


def test_combined_pipeline_has_one_scaler_by_default():
    pipe = make_pipeline("hog+lbp", "linear-svm")
    assert type(pipe["features"]) is FeatureUnion and isinstance(pipe["scale"], StandardScaler)


@pytest.mark.parametrize("features, scaled", [("hog", True), ("sift", False), ("vlad", False), ("hog+sift", True)])
def test_only_normalised_sift_histograms_skip_the_scaler(features, scaled):
    assert isinstance(make_pipeline(features, "linear-svm")["scale"], StandardScaler) is scaled


def test_feature_threads_and_loader_workers_are_capped_at_the_usable_cpus(monkeypatch):
    # n_jobs=100000 started 100000 threads: "'DummyProcess' object has no attribute 'terminate'".
    from fer_classic import _resources
    from fer_classic.features import _base

    monkeypatch.setattr(_resources, "usable_cpus", lambda: 2)
    asked = []

    def parallel(n_jobs, **kwargs):
        asked.append(n_jobs)
        return lambda tasks: [func(*args) for func, args, _ in tasks]

    monkeypatch.setattr(_base, "Parallel", parallel)
    images = np.zeros((300, 8, 8))
    out = HOGFeatures(n_jobs=100_000)._map_images(lambda b: b.reshape(len(b), -1), images)
    assert out.shape == (300, 64) and asked == [2]
    assert _resources.workers(100_000) == 2 and _resources.workers(-2) == 1


def test_feature_widths_before_any_data_match_a_fit():
    from fer_classic.features._registry import feature_widths

    X = np.zeros((1, 40 * 40))
    expected = [len(make_features(name).fit(X).get_feature_names_out()) for name in ("hog", "lbp", "gabor")]
    assert feature_widths("hog+lbp+gabor+pca+sift", (40, 40)) == [*expected, 150, None]
