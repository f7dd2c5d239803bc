"""Dense SIFT VLAD: residuals to the nearest word, summed per pyramid cell, powered and normalised."""

import cv2
import numpy as np
import pytest

from conftest import random_gray
from fer_classic.features import DenseSIFTVLAD, make_features
from fer_classic.features._sift import dense_keypoints

# 36 keypoints of one size per 48x48 image, 4 words in 8 dimensions.
FAST = dict(step=8, patch_sizes=12, n_words=4, n_components=8, random_state=0)


@pytest.fixture(scope="module")
def faces():
    return random_gray((12, 48 * 48), seed=5)


def _rootsift(image):
    """OpenCV's RootSIFT descriptors of one 48x48 row on FAST's grid, after the per-image contrast stretch."""
    keypoints, centres = dense_keypoints((48, 48), 8, (12.0,))
    image = cv2.normalize(image.reshape(48, 48).astype(np.uint8), None, 0, 255, cv2.NORM_MINMAX)
    _, descriptors = cv2.SIFT_create().compute(image, keypoints)
    return np.sqrt(descriptors / descriptors.sum(axis=1, keepdims=True)), centres


@pytest.mark.parametrize("levels, width", [((1,), 32), ((1, 2), 160)])
def test_output_width_is_words_times_dimensions_times_cells(faces, levels, width):
    vlad = DenseSIFTVLAD(**FAST, levels=levels).fit(faces)
    assert vlad.transform(faces[:2]).shape == (2, width) == (2, vlad.n_features_out_)
    assert vlad.get_feature_names_out()[0] == "vlad0"


def test_each_word_sums_the_residuals_of_its_descriptors(faces):
    vlad = DenseSIFTVLAD(**FAST, levels=(1,), power=1).fit(faces)
    root, _ = _rootsift(faces[0])
    projected = (root - vlad.mean_) @ vlad.components_.T
    nearest = np.linalg.norm(projected[:, None] - vlad.codebook_[None], axis=2).argmin(axis=1)
    sums = np.stack([(projected[nearest == w] - vlad.codebook_[w]).sum(axis=0) for w in range(4)])
    sums /= np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)  # intra-normalisation
    expected = sums.ravel() / np.linalg.norm(sums)
    np.testing.assert_allclose(vlad.transform(faces[:1])[0], expected, atol=1e-4)


def test_a_finer_level_pools_the_descriptors_of_each_cell(faces):
    vlad = DenseSIFTVLAD(**FAST, levels=(2,), power=1).fit(faces)
    root, centres = _rootsift(faces[0])
    projected = (root - vlad.mean_) @ vlad.components_.T
    nearest = np.linalg.norm(projected[:, None] - vlad.codebook_[None], axis=2).argmin(axis=1)
    cell = (centres[:, 0] >= 24) * 2 + (centres[:, 1] >= 24)  # row-major 2 x 2 cells
    word = nearest[cell == 3][0]  # a word of the last cell
    mine = (cell == 3) & (nearest == word)
    residual = (projected[mine] - vlad.codebook_[word]).sum(axis=0)
    block = vlad.transform(faces[:1])[0].reshape(4, 4, 8)[3, word]
    np.testing.assert_allclose(block / np.linalg.norm(block), residual / np.linalg.norm(residual), atol=1e-4)


def test_every_cell_and_word_is_unit_or_empty_and_every_row_unit(faces):
    X = DenseSIFTVLAD(**FAST).fit(faces).transform(faces)
    norms = np.linalg.norm(X.reshape(len(X), 5, 4, 8), axis=3)
    assert np.all(np.isclose(norms, 0) | np.isclose(norms, norms.max(axis=(1, 2), keepdims=True)))
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0)


def test_parallel_transform_equals_serial():
    faces = random_gray((300, 48 * 48), seed=9)  # above the extractors' threshold for threads
    serial = DenseSIFTVLAD(**FAST).fit(faces)
    parallel = DenseSIFTVLAD(**FAST, n_jobs=2).fit(faces)
    np.testing.assert_array_equal(parallel.transform(faces), serial.transform(faces))


def test_too_few_descriptors_for_the_projection_is_an_error(faces):
    with pytest.raises(ValueError, match="n_components=64 needs at least as many descriptors"):
        DenseSIFTVLAD(step=48, patch_sizes=12, n_words=2, n_components=64).fit(faces[:1])


def test_registered_as_vlad_with_the_seed_and_jobs_of_make_features():
    vlad = make_features("vlad", n_jobs=2, random_state=3)
    assert isinstance(vlad, DenseSIFTVLAD) and vlad.random_state == 3 and vlad.n_jobs == 2
