"""Dense SIFT bag of visual words: grid, codebook, assignment, pyramid, normalisation."""

import cv2
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from conftest import random_gray
from fer_classic.features import DenseSIFTBoVW, DenseSIFTVLAD, make_features
from fer_classic.features._sift import dense_keypoints

# Small, fast settings: 36 keypoints of one size per 48x48 image.
FAST = dict(step=8, patch_sizes=12, n_words=8, random_state=0)


@pytest.fixture(scope="module")
def faces():
    return random_gray((12, 48 * 48), seed=5)


def test_keypoint_grid_is_centred_and_symmetric():
    keypoints, centres = dense_keypoints((48, 48), 4, (12.0,))
    assert len(keypoints) == 144
    assert centres[:, 1].min() == 1.5 and centres[:, 1].max() == 45.5  # 47 - 45.5: mirror-symmetric
    assert all(k.size == 2.0 and k.angle == 0.0 for k in keypoints)  # a 12-pixel patch is size 12 / 6


def test_one_grid_per_patch_size():
    keypoints, _ = dense_keypoints((48, 48), 8, (8.0, 16.0))
    assert len(keypoints) == 2 * 36
    assert sorted({round(k.size, 5) for k in keypoints}) == [round(8 / 6, 5), round(16 / 6, 5)]


@pytest.mark.parametrize("levels, n_words, width", [((1,), 8, 8), ((1, 2), 8, 40), ((1, 2, 3), 4, 56)])
def test_output_width_is_words_times_pyramid_cells(faces, levels, n_words, width):
    bovw = DenseSIFTBoVW(**{**FAST, "n_words": n_words, "levels": levels}).fit(faces)
    assert bovw.transform(faces[:2]).shape == (2, width) == (2, bovw.n_features_out_)
    assert len(bovw.get_feature_names_out()) == width and bovw.get_feature_names_out()[0] == "sift0"


@pytest.mark.parametrize("assignment", ["hard", "soft"])
def test_rows_are_non_negative_and_unit_l2(faces, assignment):
    out = DenseSIFTBoVW(**FAST, assignment=assignment).fit(faces).transform(faces)
    assert out.min() >= 0
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0)


@pytest.mark.parametrize("assignment", ["hard", "soft"])
def test_every_pyramid_level_sums_to_one_before_normalisation(faces, assignment):
    out = DenseSIFTBoVW(**FAST, levels=(1, 2), assignment=assignment, power=1, norm=None).fit(faces).transform(faces)
    np.testing.assert_allclose(out[:, :8].sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(out[:, 8:].sum(axis=1), 1.0, rtol=1e-6)


def test_finer_pyramid_cells_add_up_to_the_coarser_histogram(faces):
    out = DenseSIFTBoVW(**FAST, levels=(1, 2), power=1, norm=None).fit(faces).transform(faces)
    np.testing.assert_allclose(out[:, 8:].reshape(-1, 4, 8).sum(axis=1), out[:, :8], rtol=1e-5, atol=1e-7)


def test_hard_assignment_counts_nearest_words_of_opencv_rootsift(faces):
    bovw = DenseSIFTBoVW(**FAST, levels=(1,), assignment="hard", power=1, norm=None).fit(faces)
    keypoints, _ = dense_keypoints((48, 48), 8, (12.0,))
    image = faces[0].reshape(48, 48).astype(np.uint8)
    image = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX)  # the per-image contrast stretch
    _, descriptors = cv2.SIFT_create().compute(image, keypoints)
    root = np.sqrt(descriptors / descriptors.sum(axis=1, keepdims=True))
    nearest = np.linalg.norm(root[:, None, :] - bovw.codebook_[None], axis=2).argmin(axis=1)
    expected = np.bincount(nearest, minlength=8) / len(keypoints)
    np.testing.assert_allclose(bovw.transform(faces[:1])[0], expected, atol=1e-6)


def test_soft_assignment_with_one_neighbour_is_hard_assignment(faces):
    soft = DenseSIFTBoVW(**FAST, assignment="soft", soft_neighbors=1).fit(faces)
    hard = DenseSIFTBoVW(**FAST, assignment="hard").fit(faces)
    np.testing.assert_allclose(soft.transform(faces), hard.transform(faces), atol=1e-6)


def test_soft_assignment_spreads_one_vote_over_the_neighbours(faces):
    # One keypoint per image: hard assignment gives one word, soft at least soft_neighbors
    # (words tied at the k-th distance share the vote: k-means on 12 points makes ties).
    params = {**FAST, "step": 48, "levels": (1,), "power": 1, "norm": None}
    soft = DenseSIFTBoVW(**params, soft_neighbors=3, soft_beta=1.0).fit(faces).transform(faces)
    hard = DenseSIFTBoVW(**params, assignment="hard").fit(faces).transform(faces)
    assert ((hard > 0).sum(axis=1) == 1).all() and ((soft > 0).sum(axis=1) >= 3).all()


def test_gray_level_contrast_does_not_change_the_features(faces):
    bovw = DenseSIFTBoVW(**FAST).fit(faces)
    np.testing.assert_allclose(bovw.transform(faces * 0.5 + 10), bovw.transform(faces), atol=1e-6)


def test_same_random_state_gives_the_same_codebook(faces):
    a = DenseSIFTBoVW(**FAST).fit(faces).codebook_
    b = DenseSIFTBoVW(**FAST).fit(faces).codebook_
    np.testing.assert_array_equal(a, b)


def test_parallel_transform_equals_serial():
    X = random_gray((300, 24 * 24), seed=2)  # above the 256 images that start threads
    bovw = DenseSIFTBoVW(step=6, patch_sizes=8, n_words=4, random_state=0, n_jobs=1).fit(X[:20])
    serial = bovw.transform(X)
    np.testing.assert_allclose(bovw.set_params(n_jobs=2).transform(X), serial)


def test_too_few_descriptors_for_the_codebook_is_an_error(faces):
    with pytest.raises(ValueError, match="n_words=50 needs at least as many descriptors"):
        DenseSIFTBoVW(step=48, patch_sizes=12, n_words=50, levels=(1,)).fit(faces[:3])


@pytest.mark.parametrize("params, message", [
    ({"step": 0}, r"The 'step' parameter of DenseSIFTBoVW must be an int in the range \[1, inf\)"),
    ({"n_words": 1}, r"The 'n_words' parameter of DenseSIFTBoVW must be an int in the range \[2, inf\)"),
    ({"patch_sizes": ()}, "The 'patch_sizes' parameter of DenseSIFTBoVW must be a float"),
    ({"patch_sizes": (12, -1)}, "The 'patch_sizes' parameter of DenseSIFTBoVW must be a float"),
    ({"levels": (1, 0)}, "The 'levels' parameter of DenseSIFTBoVW must be an int"),
    ({"levels": (49,)}, "between 1 and the smaller image side 48"),
    ({"assignment": "fuzzy"}, "The 'assignment' parameter of DenseSIFTBoVW must be a str among"),
    ({"norm": "l1"}, "The 'norm' parameter of DenseSIFTBoVW must be a str among {'l2'} or None"),
    ({"power": 0}, r"The 'power' parameter of DenseSIFTBoVW must be a float in the range \(0.0, inf\)"),
    ({"soft_beta": float("nan")}, "The 'soft_beta' parameter of DenseSIFTBoVW must be a float"),
    ({"soft_beta": 1e39},
     r"The 'soft_beta' parameter of DenseSIFTBoVW must be a float in the range \(0.0, 1000000.0\]"),
    ({"sigma": 65}, "sigma=65 blurs the 48x48 images far beyond their size; give at most 64"),
    # Accepted before: 7 of the 21 cells held no keypoint, and a patch twice the image read mostly border.
    ({"step": 16, "levels": (1, 2, 4)}, r"levels=\(1, 2, 4\) holds 4, finer than the keypoint grid: step=16 "
                                        r"places 3x3 keypoints on 48x48 images, .* give levels of at most 3"),
    ({"patch_sizes": (12, 100)}, r"patch_sizes=\(12, 100\) holds a patch of 100 pixels, wider than the 48x48 "
                                 r"images; use images of at least 100x100 pixels \(--size 100 on the command line\), "
                                 r"or patch sizes of at most 48 \(sift.patch_sizes in a search's --grid"),
])
def test_invalid_parameters_are_named(faces, params, message):
    with pytest.raises(ValueError, match=message):
        DenseSIFTBoVW(**{**FAST, **params}).fit(faces)


@pytest.mark.parametrize("cls", [DenseSIFTBoVW, DenseSIFTVLAD])
def test_the_width_follows_from_the_parameters(faces, cls):
    # combined-svm's warning gives blocks from it, before any fit.
    params = {**FAST, **({"n_components": 8} if cls is DenseSIFTVLAD else {})}
    assert cls(**params).fit(faces).n_features_out_ == cls(**params)._columns()


def test_default_patches_on_small_images_name_the_size_they_need():
    # It advised "patch sizes of at most 16" on 8x8 images (an allowance that read as wrong), which fit cannot set.
    with pytest.raises(ValueError, match=r"wider than the 8x8 images; use images of at least 20x20 pixels \(--size 20 "
                                         r"on the command line\), or patch sizes of at most 16, which any image takes "
                                         r"\(vlad.patch_sizes in a search's --grid"):
        DenseSIFTVLAD()._check_params((8, 8))


@pytest.mark.parametrize("params", [{"levels": (1, 2, 3), "step": 2}, {"patch_sizes": (8, 16)}, {"patch_sizes": 48},
                                    {"step": 16, "levels": (1, 3)}], ids=str)
def test_pyramids_and_patches_that_fit_the_grid_and_image_pass(params):
    bovw = DenseSIFTBoVW(**{**FAST, **params})
    bovw._check_params((48, 48))  # as fit does, without computing the descriptors


def test_transform_before_fit_is_an_error(faces):
    with pytest.raises(NotFittedError):
        DenseSIFTBoVW().transform(faces)


def test_registered_as_sift_with_the_seed_and_jobs_of_make_features():
    bovw = make_features("sift", n_jobs=2, random_state=3)
    assert isinstance(bovw, DenseSIFTBoVW) and bovw.random_state == 3 and bovw.n_jobs == 2


def test_separates_synthetic_expressions_with_a_linear_svm(tiny_faces):
    train, test = tiny_faces.select("train"), tiny_faces.select("test")
    pipe = Pipeline([("sift", DenseSIFTBoVW(step=6, patch_sizes=16, n_words=32, random_state=0)),
                     ("clf", LinearSVC(C=10))])
    assert pipe.fit(train.X, train.y).score(test.X, test.y) > 0.6  # chance: 1/7
