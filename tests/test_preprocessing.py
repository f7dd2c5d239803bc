"""Face preprocessing transformers, their registry, and make_pipeline's preprocess / memory options."""

import cv2
import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from conftest import random_gray
from fer_classic import make_pipeline
from fer_classic.features import HOGFeatures, PixelFeatures
from fer_classic.preprocessing import BorderCrop, HistogramEqualizer, make_preprocessing


@pytest.fixture(scope="module")
def images():
    return random_gray((5, 24, 36), seed=7)


# -- HistogramEqualizer ----------------------------------------------------------------------

def test_global_equalization_is_opencv_equalizehist(images):
    X = images.reshape(len(images), -1)
    out = HistogramEqualizer(method="global", image_shape=(24, 36)).fit_transform(X)
    expected = np.stack([cv2.equalizeHist(im) for im in images]).reshape(len(images), -1)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("clip_limit, tiles", [(2.0, (2, 3)), (4.0, (1, 1)), (1.0, (4, 6))])
def test_clahe_is_opencv_clahe_with_tiles_in_row_column_order(images, clip_limit, tiles):
    X = images.reshape(len(images), -1)
    out = HistogramEqualizer(clip_limit=clip_limit, tile_grid_size=tiles, image_shape=(24, 36)).fit_transform(X)
    clahe = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(tiles[1], tiles[0]))  # OpenCV: (cols, rows)
    expected = np.stack([clahe.apply(im) for im in images]).reshape(len(images), -1)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("method", ["clahe", "global"])
def test_equalized_rows_are_float_images_of_the_same_geometry(method):
    X = random_gray((3, 48 * 48))
    out = HistogramEqualizer(method=method).fit_transform(X)
    assert out.shape == X.shape and out.dtype == np.float64
    np.testing.assert_array_equal(out, np.rint(out))
    assert 0 <= out.min() and out.max() == 255


def test_values_outside_8_bit_are_clipped():
    X = np.array([[-40.0, 0.0, 300.0, 255.0]])
    eq = HistogramEqualizer(method="global").fit(X)
    np.testing.assert_array_equal(eq.transform(X), eq.transform(np.clip(X, 0, 255)))


@pytest.mark.parametrize("stored", [lambda x: x / 255.0, lambda x: x.astype(np.uint16) * 257],
                         ids=["floats in 0..1", "16-bit"])
@pytest.mark.parametrize("method", ["clahe", "global"])
def test_faces_stored_in_other_depths_are_equalised_as_their_8_bit_levels(images, stored, method):
    # Floats in 0..1 were rounded to levels 0 and 1; 16-bit faces clipped at 255.
    X = images.reshape(len(images), -1)
    eq = HistogramEqualizer(method=method, image_shape=(24, 36)).fit(X)
    np.testing.assert_array_equal(eq.transform(stored(X)), eq.transform(X))


@pytest.mark.parametrize("params, message", [
    ({"method": "adaptive"}, "The 'method' parameter of HistogramEqualizer must be a str among"),
    ({"clip_limit": 0}, r"The 'clip_limit' parameter of HistogramEqualizer must be a float in the range \(0.0"),
    ({"tile_grid_size": (0, 2)}, "The 'tile_grid_size' parameter of HistogramEqualizer must be a tuple of 2 items"),
    ({"tile_grid_size": (2, 2, 2)}, "The 'tile_grid_size' parameter of HistogramEqualizer must be a tuple of 2 items"),
])
def test_invalid_equalizer_parameters_are_named(params, message):
    with pytest.raises(ValueError, match=message):
        HistogramEqualizer(**params).fit(np.zeros((1, 16)))


@pytest.mark.parametrize("tiles", [(25, 1), (1, 37), (10**6, 10**6)])
def test_more_clahe_tiles_than_pixels_are_refused_at_fit(images, tiles):
    # OpenCV pads the image to whole tiles: (10**6, 10**6) asked it for a terabyte.
    with pytest.raises(ValueError, match=r"asks for more CLAHE tiles than the 24x36 images have pixels; give at "
                                         r"most \(24, 36\)"):
        HistogramEqualizer(tile_grid_size=tiles, image_shape=(24, 36)).fit(images.reshape(len(images), -1))


def test_global_equalization_ignores_the_tiles(images):
    X = images.reshape(len(images), -1)
    assert HistogramEqualizer(method="global", tile_grid_size=(99, 99), image_shape=(24, 36)).fit_transform(
        X).shape == X.shape


# -- BorderCrop ------------------------------------------------------------------------------

@pytest.mark.parametrize("border, expected_shape", [(4, (16, 28)), (0.25, (12, 18)), (0, (24, 36))])
def test_crop_without_resize_keeps_the_centre(images, border, expected_shape):
    X = images.reshape(len(images), -1)
    crop = BorderCrop(border=border, resize=False, image_shape=(24, 36)).fit(X)
    rows, cols = (24 - expected_shape[0]) // 2, (36 - expected_shape[1]) // 2
    assert crop.output_shape_ == expected_shape
    np.testing.assert_array_equal(
        crop.transform(X), images[:, rows : 24 - rows, cols : 36 - cols].reshape(len(images), -1)
    )


@pytest.mark.parametrize("n_images", [1, 2, 5, 130])  # OpenCV rounded 2 or 5+ channels otherwise than 1
def test_crop_with_resize_equals_opencv_resize_of_each_crop(n_images):
    X = random_gray((n_images, 48 * 48), seed=1)
    out = BorderCrop(border=5).fit_transform(X)
    expected = np.stack([
        cv2.resize(im.reshape(48, 48)[5:43, 5:43].astype(np.float32), (48, 48), interpolation=cv2.INTER_LINEAR)
        for im in X
    ]).reshape(n_images, -1)
    np.testing.assert_array_equal(out, expected)


def test_a_resized_face_is_the_same_in_any_batch():
    # Resized as channels of one OpenCV call, a face differed with its batch by up to 8 levels after CLAHE.
    X = random_gray((6, 48 * 48), seed=2)
    pipe = Pipeline([("crop", BorderCrop()), ("clahe", HistogramEqualizer())]).fit(X)
    np.testing.assert_array_equal(pipe.transform(X), np.vstack([pipe.transform(row[None]) for row in X]))


def test_a_dark_8_bit_face_cropped_keeps_its_levels():
    # Cropped to float64, levels 0..1 read as a 0..1 image in the next step: 255 times brighter.
    X = np.zeros((1, 48 * 48), np.uint8)
    X[0, 1000:1100] = 1
    pipe = Pipeline([("crop", BorderCrop(resize=False)), ("pixels", PixelFeatures(scale="none"))]).fit(X)
    np.testing.assert_array_equal(pipe.transform(X), X.reshape(48, 48)[5:43, 5:43].reshape(1, -1))


@pytest.mark.parametrize("dtype, expected", [(np.uint8, np.uint8), (np.int64, np.int64), (np.uint16, np.uint16),
                                             (np.float32, np.float64), (bool, np.float64)])
def test_crop_without_resize_keeps_integer_images_integer(images, dtype, expected):
    X = images.reshape(len(images), -1)
    out = BorderCrop(border=2, resize=False, image_shape=(24, 36)).fit(X).transform(X.astype(dtype))
    assert out.dtype == expected
    levels = 255.0 * (X != 0) if dtype is bool else X
    np.testing.assert_array_equal(out, levels.reshape(-1, 24, 36)[:, 2:22, 2:34].reshape(len(X), -1))


@pytest.mark.parametrize("border, side", [(0, 48), (0.04, 10), (0.04, 48)])  # 0.04 of 10 pixels rounds to 0
def test_resized_crop_of_8_bit_faces_is_float64_whatever_the_border_rounds_to(border, side):
    # A border of 0 pixels skipped the resize and kept uint8, so the dtype depended on the face size.
    X = random_gray((2, side * side))  # uint8
    out = BorderCrop(border=border).fit(X).transform(X)
    assert out.dtype == np.float64 and out.shape == X.shape


def test_crop_of_a_0_to_1_float_face_gives_its_8_bit_levels(images):
    X = images.reshape(len(images), -1)
    crop = BorderCrop(border=2, resize=False, image_shape=(24, 36)).fit(X)
    np.testing.assert_allclose(crop.transform(X / 255.0), crop.transform(X), rtol=1e-12)


def test_crop_with_resize_keeps_the_geometry():
    crop = BorderCrop().fit(random_gray((2, 48 * 48)))
    assert crop.output_shape_ == (48, 48) and crop.transform(random_gray((2, 48 * 48))).shape == (2, 2304)


def test_square_crop_feeds_an_extractor_that_infers_the_smaller_geometry():
    X = random_gray((3, 48 * 48))
    pipe = Pipeline([("crop", BorderCrop(border=4, resize=False)), ("hog", HOGFeatures())]).fit(X)
    assert pipe["hog"].image_shape_ == (40, 40)
    assert pipe.transform(X).shape == (3, HOGFeatures().fit(np.zeros((1, 1600))).n_features_out_)


def test_non_square_crop_feeds_an_extractor_given_output_shape():
    X = random_gray((3, 20 * 30))
    crop = BorderCrop(border=2, resize=False, image_shape=(20, 30)).fit(X)
    hog = HOGFeatures(pixels_per_cell=(4, 4), cells_per_block=(2, 2), image_shape=crop.output_shape_)
    assert hog.fit(crop.transform(X)).image_shape_ == (16, 26)


@pytest.mark.parametrize("border, message", [
    (-1, r"The 'border' parameter of BorderCrop must be an int in the range \[0, inf\) or a float in the "
         r"range \[0.0, 0.5\)"),
    (0.5, r"The 'border' parameter of BorderCrop must be .* Got 0.5 instead"),
    ("4", "The 'border' parameter of BorderCrop must be .* Got '4' instead"),
    (24, "leaving nothing; use a smaller border"),
    (True, "The 'border' parameter of BorderCrop must be .* not a bool; got True. Give border=1"),  # True was 1 pixel
])
def test_invalid_borders_are_named(border, message):
    with pytest.raises(ValueError, match=message):
        BorderCrop(border=border).fit(np.zeros((1, 48 * 48)))


@pytest.mark.parametrize("resize", [True, False])
def test_non_square_rows_without_image_shape_are_refused(resize):
    # A fractional border cut no row of the 1 x 768 image the row was read as, and 77 pixels off its ends.
    with pytest.raises(ValueError, match=r"border=0.1 on rows of 768 pixels, not a square image: .* pass "
                                         r"image_shape=\(height, width\) if rows are not square images"):
        BorderCrop(resize=resize).fit(np.zeros((1, 24 * 32)))


def test_a_pixel_border_on_non_square_rows_hints_at_image_shape():
    with pytest.raises(ValueError, match=r"leaving nothing; use a smaller border, or pass image_shape"):
        BorderCrop(border=2).fit(np.zeros((1, 24 * 32)))


def test_non_square_rows_pass_with_image_shape_or_without_border():
    X = np.zeros((1, 24 * 32))
    assert BorderCrop(resize=False, image_shape=(24, 32)).fit(X).output_shape_ == (20, 26)
    assert BorderCrop(border=0).fit(X).output_shape_ == (1, 768)


# -- make_preprocessing and make_pipeline(preprocess=...) --------------------------------------

@pytest.mark.parametrize("spec, kind", [
    ("equalize", HistogramEqualizer), ("clahe", HistogramEqualizer), ("crop", BorderCrop), ("crop+clahe", Pipeline),
])
def test_preprocessing_by_name(spec, kind):
    assert isinstance(make_preprocessing(spec), kind)


def test_chained_preprocessing_keeps_the_order_given():
    assert [name for name, _ in make_preprocessing("clahe + crop").steps] == ["clahe", "crop"]


@pytest.mark.parametrize("spec, message", [
    ("blur", "Unknown preprocessing 'blur'"), ("crop+crop", "twice"), ("", "Unknown preprocessing"),
    (42, "preprocess must be a name"), ("equalize+", "single '\\+' signs"), ("crop++clahe", "single '\\+' signs"),
])
def test_bad_preprocessing_specs_are_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        make_preprocessing(spec)


def test_pipeline_preprocessing_is_the_first_step(tiny_faces):
    train = tiny_faces.select("train")
    pipe = make_pipeline("hog", "linear-svm", preprocess="crop+clahe").fit(train.X, train.y)
    assert [name for name, _ in pipe.steps] == ["preprocess", "features", "scale", "clf"]
    assert pipe.score(train.X, train.y) > 0.9


def test_pipeline_without_preprocessing_keeps_its_steps():
    assert [name for name, _ in make_pipeline("hog", "svm").steps] == ["features", "scale", "clf"]


# -- caching -------------------------------------------------------------------------------------

class CountingTransformer(TransformerMixin, BaseEstimator):
    """Identity that counts its fits (class-level, so clones share the count)."""

    fits = 0

    def fit(self, X, y=None):
        type(self).fits += 1
        return self

    def transform(self, X):
        return np.asarray(X, dtype=np.float64)


@pytest.mark.parametrize("use_memory, expected_fits", [(False, 7), (True, 3)])
def test_memory_reuses_fitted_steps_across_classifier_candidates(tmp_path, tiny_faces, use_memory, expected_fits):
    # 3 candidates x 2 folds + the refit: 7 fits; cached, one per distinct training set.
    train = tiny_faces.select("train")
    CountingTransformer.fits = 0
    pipe = make_pipeline("pixels", "knn", preprocess=CountingTransformer(),
                         memory=str(tmp_path / "cache") if use_memory else None)
    GridSearchCV(pipe, {"clf__estimator__n_neighbors": [1, 3, 5]}, cv=2).fit(train.X, train.y)
    assert CountingTransformer.fits == expected_fits
