"""Batch HOG and LBP against scikit-image, image by image.

Tolerances: HOG descriptors within ``atol=1e-12`` (rtol 0) of
``skimage.feature.hog``; LBP codes exactly equal to
``skimage.feature.local_binary_pattern``'s.
"""

import re
import tracemalloc
import warnings

import numpy as np
import pytest
from skimage.feature import hog, local_binary_pattern

from conftest import FER_FOLDER, random_gray, requires_fer_folder
from fer_classic.data import read_image
from fer_classic.features import HOGFeatures, LBPFeatures
from fer_classic.features._hog import hog_batch
from fer_classic.features._lbp import lbp_batch

HOG_ATOL = 1e-12
NORMS = ["L1", "L1-sqrt", "L2", "L2-Hys"]
LBP_METHODS = ["default", "ror", "uniform", "nri_uniform"]


def skimage_hog(images, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(3, 3), block_norm="L2-Hys"):
    return np.stack([
        hog(image, orientations=orientations, pixels_per_cell=pixels_per_cell,
            cells_per_block=cells_per_block, block_norm=block_norm, feature_vector=True)
        for image in images
    ])


def skimage_lbp(images, P, R, method):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # its advice against float images
        return np.stack([local_binary_pattern(image, P, R, method) for image in images])


def raises_before_allocating(call, match, limit=1 << 20):
    """``call()`` raises ValueError matching ``match`` having allocated under ``limit`` bytes (1 MB) at its peak."""
    with pytest.raises(ValueError, match=match):
        call()  # once untraced: the imports of a first call are no allocation of the check's
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=match):
            call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < limit


def with_ties(shape, seed=0):
    """Random 8-bit images, one of them with flat areas and sharp 45-degree steps (ties)."""
    images = random_gray(shape, seed)
    images[0] = images[0] // 64 * 64
    images[1, :, : shape[2] // 2] = 128
    return images


# --- HOG -------------------------------------------------------------------

@pytest.mark.parametrize("block_norm", NORMS)
@pytest.mark.parametrize("orientations, pixels_per_cell, cells_per_block", [
    (9, (8, 8), (3, 3)), (9, (8, 8), (1, 1)), (8, (6, 6), (2, 2)), (12, (4, 4), (3, 3)),
    (9, (5, 3), (2, 1)), (8, (1, 1), (1, 1)), (12, (7, 7), (2, 2)),
])
@pytest.mark.parametrize("shape", [(48, 48), (37, 53)])
def test_hog_batch_matches_skimage_on_random_images(shape, orientations, pixels_per_cell, cells_per_block,
                                                    block_norm):
    images = with_ties((3, *shape))
    params = dict(orientations=orientations, pixels_per_cell=pixels_per_cell,
                  cells_per_block=cells_per_block, block_norm=block_norm)
    np.testing.assert_allclose(hog_batch(images, **params), skimage_hog(images, **params), rtol=0, atol=HOG_ATOL)


@pytest.mark.parametrize("block_norm", NORMS)
def test_hog_batch_matches_skimage_on_faces(tiny_faces, block_norm):
    images = tiny_faces.images[::8]
    np.testing.assert_allclose(hog_batch(images, block_norm=block_norm),
                               skimage_hog(images, block_norm=block_norm), rtol=0, atol=HOG_ATOL)


@pytest.mark.parametrize("images", [
    np.random.default_rng(1).random((3, 24, 30)),  # non-integer: the computed (not tabled) path
    np.random.default_rng(2).integers(-900, 900, (3, 24, 30)).astype(np.float64),  # too wide for the tables
    np.random.default_rng(3).integers(-50, 50, (3, 24, 30)).astype(np.int16),  # negative integers
    np.full((2, 24, 30), 9.0),  # no gradient at all
], ids=["float", "wide-range", "negative", "constant"])
@pytest.mark.parametrize("block_norm", NORMS)
def test_hog_batch_matches_skimage_on_other_values(images, block_norm):
    params = dict(pixels_per_cell=(6, 5), cells_per_block=(2, 2), block_norm=block_norm)
    np.testing.assert_allclose(hog_batch(images, **params), skimage_hog(images, **params), rtol=0, atol=HOG_ATOL)


@pytest.mark.parametrize("dtype, expected",
                         [(np.float32, np.float32), (np.uint8, np.float64), (np.float64, np.float64)])
def test_hog_batch_output_dtype_follows_skimage(dtype, expected):
    images = random_gray((2, 16, 16)).astype(dtype)
    out = hog_batch(images, pixels_per_cell=(4, 4), cells_per_block=(2, 2))
    assert out.dtype == expected == skimage_hog(images, pixels_per_cell=(4, 4), cells_per_block=(2, 2)).dtype


def test_hog_batch_of_no_image_has_the_descriptor_width():
    assert hog_batch(np.zeros((0, 48, 48))).shape == (0, 1296)


@pytest.mark.parametrize("kwargs, message", [
    (dict(pixels_per_cell=(16, 16)), "too small"),
    (dict(block_norm="L3"), "The 'block_norm' parameter of hog_batch must be a str among"),
    (dict(orientations=0), r"The 'orientations' parameter of hog_batch must be an int in the range \[1, 180\]"),
    (dict(orientations=181), r"The 'orientations' parameter of hog_batch must be an int in the range \[1, 180\]"),
    (dict(pixels_per_cell=(0, 8)), "The 'pixels_per_cell' parameter of hog_batch must be a tuple of 2 items"),
])
def test_hog_batch_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        hog_batch(np.zeros((1, 24, 24)), **kwargs)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_hog_batch_rejects_non_finite_pixels(bad):
    images = np.zeros((1, 24, 24))
    images[0, 3, 3] = bad
    with pytest.raises(ValueError, match="finite"):
        hog_batch(images)


@pytest.mark.parametrize("function", [hog_batch, lbp_batch], ids=["hog_batch", "lbp_batch"])
@pytest.mark.parametrize("dtype", [complex, object])
def test_batches_refuse_pixels_that_are_not_real_numbers(function, dtype):
    # Complex pixels lost their imaginary part with a ComplexWarning only; object arrays were converted.
    images = np.full((1, 24, 24), 3 + 4j).astype(dtype)
    with pytest.raises(TypeError, match=rf"{function.__name__}: images of dtype {np.dtype(dtype)} are not "
                                        r"grayscale pixels; give real numbers"):
        function(images)


@pytest.mark.parametrize("shape", [(2, 5, 5, 9), (2, 6, 6, 8), (2, 324)])
def test_hog_decode_compact_refuses_histograms_of_another_grid(shape):
    # (2, 5, 5, 9) gave descriptors of 729 columns for a model of 1,296.
    hog = HOGFeatures().fit(np.zeros((1, 48 * 48)))
    with pytest.raises(ValueError, match=r"are not the cell histograms of this HOGFeatures: its 48x48 images hold "
                                         r"6x6 cells of 9 orientations, shape \(n, 6, 6, 9\)"):
        hog.decode_compact(np.zeros(shape, np.float32))


def test_hog_batch_rejects_a_single_image():
    with pytest.raises(ValueError, match=r"\(n_images, height, width\)"):
        hog_batch(np.zeros((24, 24)))


@pytest.mark.parametrize("orientations", [181, 10**6])
def test_hog_features_reject_over_180_orientations_before_allocating(orientations):
    match = r"The 'orientations' parameter of HOGFeatures must be an int in the range \[1, 180\]. Got"
    raises_before_allocating(lambda: HOGFeatures(orientations=orientations).fit(np.zeros((2, 48 * 48))), match)


@pytest.mark.parametrize("kwargs, shape, width", [
    (dict(orientations=180, pixels_per_cell=(1, 1), cells_per_block=(8, 8)), (16, 16), "933,120"),  # 9 x 9 blocks
    (dict(orientations=20, pixels_per_cell=(1, 1), cells_per_block=(8, 8)), (32, 32), "800,000"),  # 25 x 25
])
def test_hog_features_reject_descriptors_over_262144_columns(kwargs, shape, width):
    match = rf"make {width} columns per image, over the 262,144 allowed for {shape[0]}x{shape[1]} images .*; use larger"
    X = np.zeros((2, shape[0] * shape[1]))
    raises_before_allocating(lambda: HOGFeatures(**kwargs, image_shape=shape).fit(X), match)


def test_hog_batch_rejects_descriptors_over_262144_columns():
    kwargs = dict(orientations=180, pixels_per_cell=(1, 1), cells_per_block=(8, 8))
    match = r"make 933,120 columns per image, over the 262,144 allowed for 16x16 images .*; use larger"
    raises_before_allocating(lambda: hog_batch(np.zeros((2, 16, 16)), **kwargs), match)


@pytest.mark.parametrize("kwargs, width", [
    (dict(orientations=180), 16 * 9 * 180),
    (dict(pixels_per_cell=(1, 1)), 46 * 46 * 9 * 9),  # one-pixel cells: the widest usual descriptor
])
def test_hog_features_take_wide_usual_descriptors(kwargs, width):
    assert HOGFeatures(**kwargs).fit(np.zeros((2, 48 * 48))).n_features_out_ == width


@pytest.mark.parametrize("kwargs", [{}, dict(pixels_per_cell=(6, 6)), dict(pixels_per_cell=(4, 4))],
                         ids=["default", "6-pixel cells", "4-pixel cells"])
def test_hog_features_take_usual_descriptors_of_the_largest_images(kwargs):
    # A fixed cap of 262,144 columns refused the default from --size 472 on (a cap of 128 columns a pixel now).
    assert HOGFeatures(**kwargs).fit(np.zeros((1, 1024 * 1024), dtype=np.uint8)).n_features_out_ > 2**18


def test_hog_features_equal_the_skimage_loop(tiny_faces):
    X = tiny_faces.X[:20]
    features = HOGFeatures(orientations=8, block_norm="L1").fit_transform(X)
    expected = skimage_hog(tiny_faces.images[:20], orientations=8, block_norm="L1")
    np.testing.assert_allclose(features, expected, rtol=0, atol=HOG_ATOL)
    assert features.dtype == np.float64


# --- LBP -------------------------------------------------------------------

@pytest.mark.parametrize("method", LBP_METHODS)
@pytest.mark.parametrize("P, R", [(8, 1.0), (4, 1), (8, 2.0), (16, 2.0), (12, 1.5), (8, 1.1), (6, 3.3), (1, 1.0),
                                  (3, 0.5)])
@pytest.mark.parametrize("shape", [(20, 20), (17, 23)])
def test_lbp_batch_equals_skimage_on_uint8_images(shape, P, R, method):
    images = with_ties((4, *shape))
    np.testing.assert_array_equal(lbp_batch(images, P, R, method), skimage_lbp(images, P, R, method))


@pytest.mark.parametrize("method", LBP_METHODS)
def test_lbp_batch_equals_skimage_on_faces(tiny_faces, method):
    images = tiny_faces.images[::8]
    np.testing.assert_array_equal(lbp_batch(images, 8, 1.0, method), skimage_lbp(images, 8, 1.0, method))


@pytest.mark.parametrize("P, R", [(8, 1.0), (16, 2.0), (5, 3.7)])
def test_lbp_batch_equals_skimage_on_float_images(P, R):
    images = np.round(np.random.default_rng(4).random((3, 15, 19)) * 4) / 4  # many exact ties
    images[1] = np.random.default_rng(5).random((15, 19))
    np.testing.assert_array_equal(lbp_batch(images, P, R, "uniform"), skimage_lbp(images, P, R, "uniform"))


def test_lbp_batch_rounds_the_radius_to_float32_as_skimage():
    # float32(R) and R give different neighbour offsets once rounded to 5 decimals.
    R = 2.213854961201737
    images = random_gray((3, 20, 20), seed=6)
    np.testing.assert_array_equal(lbp_batch(images, 4, R), skimage_lbp(images, 4, R, "default"))


@pytest.mark.parametrize("method, n_bins", [("default", 256), ("ror", 256), ("uniform", 10), ("nri_uniform", 59)])
def test_lbp_batch_codes_lie_in_the_histogram_range(method, n_bins):
    codes = lbp_batch(random_gray((2, 20, 20)), 8, 1.0, method)
    assert codes.dtype == np.int32 and codes.min() >= 0 and codes.max() < n_bins


@pytest.mark.parametrize("kwargs, message", [
    (dict(method="var"), "method must be one of"),
    (dict(P=0), "P must be an integer in 1..16"),
    (dict(P=17), "P must be an integer in 1..16"),
    (dict(P=8.0), "P must be an integer"),
    (dict(R=0.0), "R must be a positive finite number"),
    (dict(R=np.inf), "R must be a positive finite number"),
])
def test_lbp_batch_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        lbp_batch(np.zeros((1, 8, 8)), **kwargs)


@pytest.mark.parametrize("shape, R", [((48, 48), 24.0), ((48, 48), 1e9), ((20, 60), 10.0), ((2, 2), 1.5)])
def test_lbp_batch_rejects_a_radius_wider_than_the_images(shape, R):
    match = rf"R={re.escape(f'{R:g}')} is over the largest LBP radius"
    raises_before_allocating(lambda: lbp_batch(np.zeros((1, *shape)), 8, R), match)


def test_lbp_batch_rejects_non_finite_pixels():
    images = np.zeros((1, 8, 8))
    images[0, 2, 2] = np.nan
    with pytest.raises(ValueError, match="finite"):
        lbp_batch(images)


def old_lbp_features(images, P=8, R=1.0, method="uniform", grid=(6, 6)):
    """The former per-image implementation: scikit-image codes, one bincount per cell."""
    n_bins = {"uniform": P + 2, "nri_uniform": P * (P - 1) + 3}.get(method, 2**P)
    rows = np.linspace(0, images.shape[1], grid[0] + 1).astype(int)
    cols = np.linspace(0, images.shape[2], grid[1] + 1).astype(int)
    out = []
    for codes in skimage_lbp(images, P, R, method).astype(np.int64):
        out.append([np.bincount(codes[r0:r1, c0:c1].ravel(), minlength=n_bins) / codes[r0:r1, c0:c1].size
                    for r0, r1 in zip(rows[:-1], rows[1:]) for c0, c1 in zip(cols[:-1], cols[1:])])
    return np.asarray(out).reshape(len(images), -1)


@pytest.mark.parametrize("kwargs", [{}, dict(method="nri_uniform", grid=(3, 5)), dict(P=4, R=2.0, grid=(7, 4))])
def test_lbp_features_equal_the_former_per_image_loop(tiny_faces, kwargs):
    images = tiny_faces.images[:12]
    features = LBPFeatures(**kwargs).fit_transform(tiny_faces.X[:12])
    np.testing.assert_array_equal(features, old_lbp_features(images, **kwargs))


def test_lbp_features_concatenate_one_histogram_set_per_radius(tiny_faces):
    X = tiny_faces.X[:10]
    multi = LBPFeatures(P=(8, 16), R=(1.0, 2.0)).fit(X)
    expected = np.hstack([LBPFeatures(P=8, R=1.0).fit_transform(X), LBPFeatures(P=16, R=2.0).fit_transform(X)])
    np.testing.assert_array_equal(multi.transform(X), expected)
    assert multi.n_features_out_ == 36 * (10 + 18)


def test_lbp_features_share_a_scalar_P_between_radii(tiny_faces):
    X = tiny_faces.X[:6]
    expected = np.hstack([LBPFeatures(R=1.0).fit_transform(X), LBPFeatures(R=3.0).fit_transform(X)])
    np.testing.assert_array_equal(LBPFeatures(P=8, R=(1.0, 3.0)).fit_transform(X), expected)


def test_lbp_features_histograms_sum_to_one_per_cell(tiny_faces):
    features = LBPFeatures(P=(4, 8), R=(1.0, 2.0), grid=(5, 7)).fit_transform(tiny_faces.X[:5])
    small, large = features[:, : 35 * 6].reshape(5, 35, 6), features[:, 35 * 6 :].reshape(5, 35, 10)
    np.testing.assert_allclose(small.sum(axis=2), 1.0)
    np.testing.assert_allclose(large.sum(axis=2), 1.0)


@pytest.mark.parametrize("P, R, message", [
    ((8, 16), (1.0, 2.0, 3.0), "same length"),
    ((), 1.0, "The 'P' parameter of LBPFeatures must be"),
    ((8, 0), (1.0, 2.0), "The 'P' parameter of LBPFeatures must be"),
    (8, (1.0, -2.0), "The 'R' parameter of LBPFeatures must be"),
    (8, np.inf, "The 'R' parameter of LBPFeatures must be .* Got inf instead"),
])
def test_lbp_features_check_the_scales_in_fit(P, R, message):
    features = LBPFeatures(P=P, R=R)  # stored as given, checked only in fit
    assert features.get_params()["P"] == P and features.get_params()["R"] == R
    with pytest.raises(ValueError, match=message):
        features.fit(np.zeros((2, 64)))


@pytest.mark.parametrize("shape, R, message", [
    ((48, 48), 24.0, r"R=24 is over the largest LBP radius for 48x48 images, 23.5 pixels"),
    ((48, 48), 60.0, r"R=60 is over the largest LBP radius for 48x48 images, 23.5 pixels"),
    ((48, 48), 1e9, r"R=1e\+09 is over the largest LBP radius for 48x48 images, 23.5 pixels"),
    ((48, 48), (1.0, 60.0), r"R=\(1.0, 60.0\) holds 60, which is over the largest LBP radius for 48x48 images"),
    ((20, 60), 10.0, r"R=10 is over the largest LBP radius for 20x60 images, 9.5 pixels"),
])
def test_lbp_features_reject_a_radius_wider_than_the_images(shape, R, message):
    X = np.zeros((2, shape[0] * shape[1]))
    raises_before_allocating(lambda: LBPFeatures(R=R, image_shape=shape).fit(X), message + ".* Give R of at most")


@pytest.mark.parametrize("shape, R", [((48, 48), 23.5), ((20, 60), 9.5), ((2, 2), 1.0), ((1, 1), 1.0)])
def test_lbp_features_take_a_radius_up_to_half_the_smaller_side(shape, R):
    X = np.zeros((2, shape[0] * shape[1]))
    assert LBPFeatures(R=R, grid=(1, 1), image_shape=shape).fit(X).transform(X).shape == (2, 10)


@pytest.mark.parametrize("kwargs, width", [
    (dict(P=16, method="default", grid=(5, 5)), "1,638,400"),
    (dict(P=(8, 16), R=(1.0, 2.0), method="ror", grid=(6, 6)), "2,368,512"),
])
def test_lbp_features_reject_descriptors_over_262144_columns(kwargs, width):
    X = np.zeros((2, 16 * 16))
    raises_before_allocating(lambda: LBPFeatures(**kwargs).fit(X),
                             rf"make {width} columns per image, over the 262,144 allowed for 16x16 images .*; use a "
                             "coarser grid")


def test_lbp_features_take_descriptors_of_262144_columns():
    # Four cells of P=16 "default" codes: the widest allowed.
    assert LBPFeatures(P=16, method="default", grid=(2, 2)).fit(np.zeros((2, 16 * 16))).n_features_out_ == 2**18


def test_lbp_features_in_parallel_equal_serial(tiny_faces):
    X = np.vstack([tiny_faces.X] * 3)  # >= 256 rows: transform splits the batch over workers
    serial = LBPFeatures(n_jobs=1).fit(X).transform(X)
    np.testing.assert_array_equal(LBPFeatures(n_jobs=2).fit(X).transform(X), serial)


# --- real FER2013 pictures --------------------------------------------------

@pytest.fixture(scope="module")
def fer_pictures():
    paths = sorted((FER_FOLDER / "test" / "happy").glob("*.jpg"))[:12] + sorted(
        (FER_FOLDER / "train" / "angry").glob("*.jpg"))[:12]
    return np.stack([read_image(path) for path in paths])


@pytest.mark.realdata
@requires_fer_folder
@pytest.mark.parametrize("block_norm", NORMS)
def test_hog_batch_matches_skimage_on_fer_pictures(fer_pictures, block_norm):
    np.testing.assert_allclose(hog_batch(fer_pictures, block_norm=block_norm),
                               skimage_hog(fer_pictures, block_norm=block_norm), rtol=0, atol=HOG_ATOL)


@pytest.mark.realdata
@requires_fer_folder
@pytest.mark.parametrize("method", LBP_METHODS)
@pytest.mark.parametrize("P, R", [(8, 1.0), (16, 2.0), (12, 3.0)])
def test_lbp_batch_equals_skimage_on_fer_pictures(fer_pictures, P, R, method):
    np.testing.assert_array_equal(lbp_batch(fer_pictures, P, R, method), skimage_lbp(fer_pictures, P, R, method))


@pytest.mark.parametrize("extractor", [HOGFeatures, LBPFeatures])
@pytest.mark.parametrize("dtype", [np.uint8, np.int64, np.float32])
def test_features_do_not_depend_on_the_input_dtype(extractor, dtype):
    # 8-bit rows are no longer copied to float64 whole; the features must not change.
    rows = np.random.default_rng(5).integers(0, 256, size=(300, 24 * 24))
    reference = extractor().fit(rows.astype(np.float64)).transform(rows.astype(np.float64))
    features = extractor().fit(rows.astype(dtype)).transform(rows.astype(dtype))
    assert features.dtype == np.float64
    np.testing.assert_array_equal(features, reference)
