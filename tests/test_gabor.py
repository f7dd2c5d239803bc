"""Gabor filter bank features: responses, pooling, normalisation, registry."""

import numpy as np
import pytest
from skimage.filters import gabor_kernel
from skimage.filters import gabor
from sklearn.pipeline import FeatureUnion

from conftest import random_gray
from fer_classic.features import GaborFeatures, HOGFeatures, make_features

SIDE = 24
SMALL = dict(frequencies=(0.25, 0.125), orientations=3, grid=(3, 3))


@pytest.fixture(scope="module")
def faces():
    return random_gray((6, SIDE * SIDE), seed=3)


@pytest.mark.parametrize("frequency", [0.25, 0.0884])
@pytest.mark.parametrize("orientation", [0, 1, 3])
def test_magnitude_per_pixel_is_scikit_images_gabor_of_the_mean_free_image(faces, frequency, orientation):
    image = faces[0].reshape(SIDE, SIDE).astype(np.float64)
    image -= image.mean()
    real, imag = gabor(image, frequency, theta=np.pi * orientation / 4, bandwidth=1, n_stds=3, mode="reflect")
    expected = np.hypot(real, imag)
    # One cell per pixel and no normalisation: the pooled features are the magnitudes themselves.
    extractor = GaborFeatures(frequencies=frequency, orientations=4, grid=(SIDE, SIDE), norm=None).fit(faces)
    got = extractor.transform(faces[:1]).reshape(4, SIDE, SIDE)[orientation]
    np.testing.assert_allclose(got, expected, atol=1e-5 * expected.max())


@pytest.mark.parametrize("frequencies, orientations, grid", [((0.25,), 2, (1, 1)), ((0.25, 0.125), 3, (3, 3)),
                                                             ((0.3, 0.2, 0.1), 4, (2, 4))])
def test_width_is_filters_times_cells(faces, frequencies, orientations, grid):
    extractor = GaborFeatures(frequencies=frequencies, orientations=orientations, grid=grid).fit(faces)
    width = len(frequencies) * orientations * grid[0] * grid[1]
    assert extractor.transform(faces).shape == (len(faces), width) == (len(faces), extractor.n_features_out_)


def test_mean_pooling_averages_the_per_pixel_magnitudes(faces):
    per_pixel = GaborFeatures(**{**SMALL, "grid": (SIDE, SIDE)}, norm=None).fit(faces).transform(faces)
    pooled = GaborFeatures(**{**SMALL, "grid": (2, 2)}, norm=None).fit(faces).transform(faces)
    cells = per_pixel.reshape(len(faces), 6, 2, SIDE // 2, 2, SIDE // 2).mean(axis=(3, 5))
    np.testing.assert_allclose(pooled, cells.reshape(len(faces), -1), rtol=1e-6)


def test_max_pooling_is_at_least_mean_pooling(faces):
    mean = GaborFeatures(**SMALL, norm=None).fit(faces).transform(faces)
    peak = GaborFeatures(**SMALL, pooling="max", norm=None).fit(faces).transform(faces)
    assert (peak >= mean - 1e-9).all() and (peak > mean).any()


def test_l2_norm_gives_unit_rows_that_ignore_brightness_and_contrast(faces):
    extractor = GaborFeatures(**SMALL).fit(faces)
    out = extractor.transform(faces)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0)
    np.testing.assert_allclose(extractor.transform(faces * 0.5 + 40.0), out, atol=1e-6)


def test_threads_give_the_same_features():
    faces = random_gray((300, SIDE * SIDE), seed=4)  # more than the 256 images transform runs in one call
    one = GaborFeatures(**SMALL).fit(faces).transform(faces)
    np.testing.assert_array_equal(GaborFeatures(**SMALL, n_jobs=2).fit(faces).transform(faces), one)


def test_feature_names_have_the_gabor_prefix(faces):
    names = GaborFeatures(**SMALL).fit(faces).get_feature_names_out()
    assert names[0] == "gabor0" and len(names) == 2 * 3 * 9


def test_grid_finer_than_the_image_is_an_error(faces):
    with pytest.raises(ValueError, match=r"grid=\(30, 30\) must lie between \(1, 1\) and the image shape"):
        GaborFeatures(grid=(30, 30)).fit(faces)


@pytest.mark.parametrize("params, radius", [({"frequencies": 1e-9}, "1,686,515,627"),
                                            ({"bandwidth": 1e-6}, "25,953,363"),
                                            ({"n_stds": 1e6}, "8,994,751"), ({"frequencies": 0.0175}, "97"),
                                            ({"bandwidth": 1e-300}, "2.6e\\+301")])
def test_kernels_wider_than_four_images_are_refused_before_they_are_built(faces, monkeypatch, params, radius):
    from fer_classic.features import _gabor

    monkeypatch.setattr(_gabor, "gabor_kernel", lambda *a, **k: pytest.fail("a kernel was built"))
    with pytest.raises(ValueError,
                       match=f"give Gabor kernels of radius {radius} pixels, over the 96 allowed for 24x24"):
        GaborFeatures(**params).fit(faces)


def test_the_widest_kernel_allowed_is_built(faces):
    # radius 96, four sides of 24: kept (0.0175 above gives 97); the radius is scikit-image's
    assert gabor_kernel(0.0176).shape == (193, 193) and gabor_kernel(0.0175).shape == (195, 195)
    assert GaborFeatures(frequencies=0.0176, orientations=2, grid=(1, 1)).fit(faces).transform(faces).shape[1] == 2


@pytest.mark.parametrize("params, name", [({"frequencies": 0.6}, "frequencies"), ({"orientations": 0}, "orientations"),
                                          ({"orientations": 181}, "orientations"), ({"pooling": "median"}, "pooling")])
def test_invalid_parameters_are_named(faces, params, name):
    with pytest.raises(ValueError, match=f"'{name}' parameter of GaborFeatures"):
        GaborFeatures(**params).fit(faces)


def test_a_bank_of_more_than_1024_filters_is_refused_before_it_is_built(faces, monkeypatch):
    from fer_classic.features import _gabor

    monkeypatch.setattr(_gabor, "gabor_kernel", lambda *a, **k: pytest.fail("a kernel was built"))
    with pytest.raises(ValueError, match=r"frequencies \(6\) x orientations \(180\) make 1,080 Gabor filters, over "
                                         "the 1,024 allowed"):
        GaborFeatures(frequencies=(0.1, 0.15, 0.2, 0.25, 0.3, 0.35), orientations=180).fit(faces)


def test_registry_name_combines_with_hog():
    union = make_features("hog+gabor")
    assert isinstance(union, FeatureUnion)
    assert [type(t) for _, t in union.transformer_list] == [HOGFeatures, GaborFeatures]
