import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from conftest import random_gray
from fer_classic.features import HOGFeatures, LBPFeatures, PixelFeatures, infer_image_shape, make_features


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


@pytest.mark.parametrize("transformer, n_out", [
    (HOGFeatures(), 1296), (LBPFeatures(), 360), (PixelFeatures(), 2304),
])
def test_default_output_width_on_48x48(transformer, n_out):
    out = transformer.fit_transform(random_gray((3, 2304)))
    assert out.shape == (3, n_out) and out.dtype == np.float64
    assert len(transformer.get_feature_names_out()) == n_out


def test_hog_on_images_too_small_for_a_block_says_what_to_change():
    with pytest.raises(ValueError, match="fewer than one block"):
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


@pytest.mark.parametrize("spec, message", [("sift", "Unknown features sift"), ("hog+hog", "twice"), ("", "Unknown")])
def test_bad_feature_specs_are_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        make_features(spec)


def test_pca_features_are_fitted_inside_the_pipeline():
    pca = make_features("pca")
    assert isinstance(pca, Pipeline) and isinstance(pca[-1], PCA)


def test_transformers_work_in_grid_search(tiny_faces):
    train = tiny_faces.select("train")
    pipe = Pipeline([("hog", HOGFeatures()), ("clf", LinearSVC())])
    search = GridSearchCV(pipe, {"hog__orientations": [6, 9]}, cv=2).fit(train.X, train.y)
    assert search.best_params_["hog__orientations"] in (6, 9)
