"""PatchWords: whitened pixel patches, k-means words, triangle votes pooled on a grid."""

import numpy as np
import pytest

from fer_classic import make_pipeline
from fer_classic.data import make_synthetic_faces
from fer_classic.features import CENTRED_BLOCKS, FEATURES, NORMALISED_FEATURES, PatchWords, make_features, make_scaler

SMALL = {"n_words": 8, "grid": (2, 2), "n_patches": 2_000, "random_state": 0}


@pytest.fixture(scope="module")
def faces():
    return make_synthetic_faces(6, 0, random_state=0)


@pytest.fixture(scope="module")
def fitted(faces):
    return PatchWords(**SMALL).fit(faces.X)


def reference_votes(words: PatchWords, image: np.ndarray) -> np.ndarray:
    """The descriptor of one image, one patch at a time (the definition the batch code computes)."""
    rows, cols = words._size()
    height, width = image.shape
    positions = [(r, c) for r in range(height - rows + 1) for c in range(width - cols + 1)]
    cells = np.zeros((*words.grid, words.n_words))
    row_edges = np.linspace(0, height - rows + 1, words.grid[0] + 1).round().astype(int)
    col_edges = np.linspace(0, width - cols + 1, words.grid[1] + 1).round().astype(int)
    for r, c in positions:
        patch = image[r : r + rows, c : c + cols].astype(np.float64).ravel()
        patch = (patch - patch.mean()) / np.sqrt(patch.var() + words.contrast)
        z = (patch - words.mean_) @ words.whitening_
        distance = np.linalg.norm(z - words.codebook_, axis=1)
        i = np.searchsorted(row_edges, r, side="right") - 1
        j = np.searchsorted(col_edges, c, side="right") - 1
        cells[i, j] += np.maximum(distance.mean() - distance, 0)
    return np.sqrt(cells).ravel()


def test_features_are_the_triangle_votes_pooled_per_cell(faces, fitted):
    image = faces.X[3].reshape(faces.image_shape)
    np.testing.assert_allclose(fitted.transform(faces.X[3:4])[0], reference_votes(fitted, image), rtol=1e-4,
                               atol=1e-4)


def test_width_is_words_times_cells(faces, fitted):
    features = fitted.transform(faces.X)
    assert features.shape == (len(faces.X), 8 * 4) == (len(faces.X), fitted.n_features_out_)
    assert fitted.get_feature_names_out()[-1] == "patchword31"


def test_votes_are_never_negative(faces, fitted):
    assert fitted.transform(faces.X).min() >= 0


@pytest.mark.parametrize("power", [0.5, 0.25])
def test_power_applies_to_the_pooled_sums(faces, power):
    plain = PatchWords(**SMALL, power=1.0).fit(faces.X).transform(faces.X)
    powered = PatchWords(**SMALL, power=power).fit(faces.X).transform(faces.X)
    np.testing.assert_allclose(powered, plain ** power, rtol=1e-5, atol=1e-6)


def test_each_row_is_encoded_on_its_own(faces, fitted):
    whole = fitted.transform(faces.X)
    one_by_one = np.vstack([fitted.transform(faces.X[i : i + 1]) for i in range(len(faces.X))])
    np.testing.assert_allclose(whole, one_by_one, rtol=1e-5, atol=1e-5)


def test_threads_encode_as_one_thread():
    many = make_synthetic_faces(40, 0, random_state=1)  # 280 rows: _map_images splits them across threads
    words = PatchWords(**SMALL).fit(many.X)
    threaded = words.set_params(n_jobs=2).transform(many.X)
    np.testing.assert_allclose(threaded, words.set_params(n_jobs=1).transform(many.X), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("seed, same", [(0, True), (1, False)])
def test_the_seed_decides_the_words(faces, fitted, seed, same):
    other = PatchWords(**{**SMALL, "random_state": seed}).fit(faces.X)
    assert np.array_equal(other.codebook_, fitted.codebook_) == same


def test_labels_are_not_used(faces, fitted):
    shuffled = PatchWords(**SMALL).fit(faces.X, faces.y[::-1])
    assert np.array_equal(shuffled.codebook_, fitted.codebook_)


@pytest.mark.parametrize("params, message", [
    ({"patch_size": 49}, r"patch_size=49 is larger than the 48x48 images"),
    ({"patch_size": (2, 60)}, r"patch_size=\(2, 60\) is larger"),
    ({"grid": (44, 1)}, r"grid=\(44, 1\) has more cells along a side than the 43x43 patch positions"),
    ({"n_patches": 4}, r"n_patches=4 must be at least n_words=8"),
    ({"patch_size": (1, 1)}, r"patch_size=\(1, 1\) holds a single pixel"),
    ({"n_patches": 10**12}, r"'n_patches' parameter of PatchWords must be an int in the range \[1, 10000000\]"),
    ({"n_words": 10**6}, r"'n_words' parameter of PatchWords must be an int in the range \[2, 65536\]"),
    ({"n_words": 60_000, "grid": (40, 40)}, r"columns per image, over the"),
])
def test_parameters_that_do_not_fit_the_images_are_refused_before_work(faces, params, message):
    with pytest.raises(ValueError, match=message):
        PatchWords(**{**SMALL, **params}).fit(faces.X)


def test_rectangular_patches(faces):
    words = PatchWords(**{**SMALL, "patch_size": (4, 8)}).fit(faces.X)
    assert words.codebook_.shape == (8, 32)
    assert words.transform(faces.X[:2]).shape == (2, 32)


def test_alone_it_is_standardised():  # its rows are not L2-normalised, as sift's and vlad's are
    assert isinstance(FEATURES["patchwords"](), PatchWords) and "patchwords" not in NORMALISED_FEATURES
    assert make_scaler("patchwords") != "passthrough"


def test_block_scaling_centres_it_without_standardising_its_columns():
    assert "patchwords" in CENTRED_BLOCKS
    assert make_features("hog+patchwords", block_scaling=True).normalised_blocks == ("patchwords",)


def test_it_joins_other_features_in_a_mirror_kernel_pipeline(faces):
    model = make_pipeline("patchwords+hog", "kernel-svm", block_scaling=True, mirror_kernel=True, kernel="rbf",
                          C=10)
    model.set_params(features__transformer__features__patchwords__n_words=8,
                     features__transformer__features__patchwords__n_patches=2_000)
    model.fit(faces.X, faces.y)
    assert set(model.predict(faces.X)) <= set(faces.y)


def test_its_width_is_known_before_any_fit():  # the memory check and combined-svm's blocks read it
    from fer_classic.features._registry import feature_widths

    assert feature_widths("hog+patchwords", (48, 48)) == [1296, 7200]


def test_transform_holds_the_distances_of_a_few_faces_at_a_time(faces):
    import tracemalloc

    words = PatchWords(n_words=800, grid=(3, 3), n_patches=2_000, random_state=0, n_jobs=1).fit(faces.X)
    batch = np.repeat(faces.X[:1], 64, axis=0)  # 64 faces of 1,849 patch positions x 800 words: 379 MB at once
    tracemalloc.start()
    words.transform(batch)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 100e6
