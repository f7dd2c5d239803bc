"""Dense SIFT words: presence and capped histograms, one codebook per patch size, large vocabularies."""

import numpy as np
import pytest

from conftest import random_gray
from fer_classic.features import DenseSIFTBoVW

# Raw histograms (no power, no norm) of hard-assigned words, so that cells hold vote counts.
RAW = dict(step=8, patch_sizes=12, n_words=8, assignment="hard", power=1.0, norm=None, random_state=0)


@pytest.fixture(scope="module")
def faces():
    return random_gray((12, 48 * 48), seed=7)


@pytest.fixture(scope="module")
def counts(faces):
    return DenseSIFTBoVW(**RAW, levels=(1, 2)).fit(faces).transform(faces) * 36  # 36 keypoints per image


def test_presence_marks_the_words_with_any_vote(faces, counts):
    presence = DenseSIFTBoVW(**RAW, levels=(1, 2), histogram="presence").fit(faces).transform(faces)
    np.testing.assert_array_equal(presence, (counts > 0.5).astype(float))


@pytest.mark.parametrize("cap", [1.0, 2.0, 5.0])
def test_capped_counts_stop_at_the_cap(faces, counts, cap):
    capped = DenseSIFTBoVW(**RAW, levels=(1, 2), histogram="capped", cap=cap).fit(faces).transform(faces)
    np.testing.assert_allclose(capped, np.minimum(counts, cap), atol=1e-5)


def test_presence_with_power_and_l2_gives_unit_rows(faces):
    out = DenseSIFTBoVW(**{**RAW, "power": 0.5, "norm": "l2"}, histogram="presence").fit(faces).transform(faces)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0)


def test_one_codebook_per_patch_size_doubles_the_words(faces):
    params = dict(RAW, patch_sizes=(8, 16), levels=(1,))
    shared = DenseSIFTBoVW(**params).fit(faces)
    separate = DenseSIFTBoVW(**params, codebooks="per_patch").fit(faces)
    assert shared.codebook_.shape == (8, 128) and separate.codebook_.shape == (16, 128)
    out = separate.transform(faces)
    assert out.shape == (len(faces), 16) == (len(faces), separate.n_features_out_)
    # Each patch size's words count its own 36 keypoints: every half sums to 1.
    np.testing.assert_allclose(out[:, :8].sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(out[:, 8:].sum(axis=1), 1.0, rtol=1e-5)


def test_per_patch_codebook_encodes_each_size_with_its_own_words(faces):
    params = dict(RAW, patch_sizes=(8, 16), levels=(1,))
    separate = DenseSIFTBoVW(**params, codebooks="per_patch").fit(faces)
    small = DenseSIFTBoVW(**{**params, "patch_sizes": 8}).set_params(random_state=0)
    small.fit(faces)
    small.codebook_ = separate.codebook_[:8]  # the first codebook, used alone on the first size
    np.testing.assert_allclose(separate.transform(faces)[:, :8], small.transform(faces), rtol=1e-6)


def test_vocabulary_larger_than_the_default_batch_trains():
    faces = random_gray((40, 48 * 48), seed=8)
    bovw = DenseSIFTBoVW(step=4, patch_sizes=12, n_words=1500, levels=(1,), random_state=0).fit(faces)
    assert bovw.codebook_.shape == (1500, 128)
    assert bovw.transform(faces[:2]).shape == (2, 1500)
