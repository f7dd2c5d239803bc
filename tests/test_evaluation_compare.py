"""McNemar's test and the side-by-side comparison of models."""

import csv

import numpy as np
import pytest
from scipy import stats

from fer_classic import fit_model
from fer_classic.evaluation import COMPARE_COLUMNS, compare_models, mcnemar_test
from fer_classic.exceptions import ReportError


def _pairs(b: int, c: int, both: int = 5):
    """Correctness vectors with b images only A got right and c only B got right."""
    a = np.array([True] * b + [False] * c + [True] * both)
    bb = np.array([False] * b + [True] * c + [True] * both)
    return a, bb


@pytest.mark.parametrize("b, c, method, expected", [
    (10, 2, "exact", stats.binomtest(2, 12, 0.5).pvalue),
    (10, 2, "chi2", stats.chi2.sf((8 - 1) ** 2 / 12, 1)),
    (30, 12, "chi2", stats.chi2.sf((18 - 1) ** 2 / 42, 1)),
])
def test_mcnemar_p_values(b, c, method, expected):
    assert mcnemar_test(*_pairs(b, c), method=method)["p_value"] == pytest.approx(expected)


@pytest.mark.parametrize("as_given", [lambda v: [int(x) for x in v], lambda v: np.array(v, dtype=object)],
                         ids=["ones-and-zeros", "object-booleans"])
def test_mcnemar_takes_other_spellings_of_booleans(as_given):
    a, b = [True, False, True, True], [False, True, True, False]
    assert mcnemar_test(as_given(a), as_given(b)) == mcnemar_test(a, b)


def test_mcnemar_counts_discordant_images_only():
    result = mcnemar_test(*_pairs(4, 1, both=100))
    assert (result["b"], result["c"]) == (4, 1)


@pytest.mark.parametrize("b, c, method", [(10, 2, "exact"), (30, 12, "chi2")])
def test_mcnemar_auto_uses_exact_below_25_discordant(b, c, method):
    assert mcnemar_test(*_pairs(b, c))["method"] == method


def test_mcnemar_without_disagreement_has_p_one():
    assert mcnemar_test([True, False], [True, False])["p_value"] == 1.0


@pytest.mark.parametrize("args, kwargs, message", [
    (([True], [True, False]), {}, "of one length"),
    (([True], [True]), {"method": "z"}, "method must be one of"),
    (([2, 0, 5], [1, 0, 1]), {}, r"correct_a must hold whether each image was classified right .* \[2, 0, 5\]"),
    (([1, 0], ["happy", "sad"]), {}, "correct_b must hold whether each image was classified right"),
])
def test_mcnemar_rejects_bad_input(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        mcnemar_test(*args, **kwargs)


@pytest.fixture(scope="module")
def two_models(fitted_model, tiny_faces):
    return {"svm": fitted_model, "knn": fit_model(tiny_faces, features="pixels", clf="knn").model}


@pytest.fixture(scope="module")
def comparison(two_models, tiny_faces):
    return compare_models(two_models, tiny_faces)


def test_comparison_rows_are_sorted_by_accuracy(comparison):
    accuracies = [r["accuracy"] for r in comparison.rows]
    assert accuracies == sorted(accuracies, reverse=True) and len(accuracies) == 2


def test_comparison_tests_the_best_two(comparison):
    assert {comparison.mcnemar["model_a"], comparison.mcnemar["model_b"]} == {"svm", "knn"}
    assert comparison.mcnemar["model_a"] == comparison.rows[0]["model"]


def test_comparison_takes_fit_seconds_from_metadata(comparison, two_models):
    row = next(r for r in comparison.rows if r["model"] == "svm")
    assert row["fit_seconds"] == two_models["svm"].metadata["timings"]["fit"]
    assert row["predict_seconds"] >= 0


def test_comparison_csv_has_one_row_per_model(comparison, tmp_path):
    with open(comparison.to_csv(tmp_path / "cmp.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["model"] for r in rows] == [r["model"] for r in comparison.rows]
    assert set(COMPARE_COLUMNS) <= rows[0].keys() and rows[0]["mcnemar_p_value"]


def test_comparison_text_names_models_and_test(comparison):
    text = comparison.format()
    assert "svm" in text and "knn" in text and "McNemar" in text


def test_comparison_text_keeps_a_hostile_model_name_on_its_row(two_models, tiny_faces):
    result = compare_models(list(two_models.values()), tiny_faces, names=["a\nb.joblib", "c\x1b[2J.joblib"])
    lines = result.format().splitlines()
    assert len(lines) == 6 and all(line.isprintable() for line in lines)  # data, head, 2 rows, blank, McNemar
    assert {"a\\nb.joblib", "c\\x1b[2J.joblib"} <= {line.split()[0] for line in lines[2:4]}


def test_repeated_names_are_made_unique(fitted_model, tiny_faces):
    result = compare_models([fitted_model, fitted_model], tiny_faces, names=["m.joblib", "m.joblib"])
    assert sorted(r["model"] for r in result.rows) == ["m.joblib", "m.joblib#2"]
    assert result.mcnemar["p_value"] == 1.0  # identical predictions


def test_comparison_rejects_dataset_of_another_geometry(fitted_model):
    from fer_classic.data import make_synthetic_faces

    with pytest.raises(ReportError, match="pass the dataset's path"):
        compare_models([fitted_model], make_synthetic_faces(2, 1, size=32))


@pytest.mark.parametrize("models, message", [
    (lambda m: [m, "m2.joblib"], r"models\[1\], .* got str. Load the file first .*compare_model_files"),
    (lambda m: {"svm": m, "raw": m.pipeline}, r"models\['raw'\], .* got Pipeline. Wrap a fitted pipeline"),
], ids=["path", "pipeline"])
def test_comparison_refuses_what_is_not_a_fer_model(fitted_model, tiny_faces, models, message):
    with pytest.raises(TypeError, match=message):
        compare_models(models(fitted_model), tiny_faces)


def test_one_time_costs_are_not_charged_to_the_first_model(tiny_faces, monkeypatch):
    import copy
    import time

    model = fit_model(tiny_faces, features="pixels", clf="knn").model
    slow_start = copy.deepcopy(model)
    calls = []
    predict = slow_start.predict

    def first_call_slow(images):  # as a process's first Numba kernel load or import would be
        calls.append(len(images))
        if len(calls) == 1:
            time.sleep(1.0)
        return predict(images)

    monkeypatch.setattr(slow_start, "predict", first_call_slow)
    rows = compare_models({"first": slow_start, "second": model}, tiny_faces).rows
    assert next(r for r in rows if r["model"] == "first")["predict_seconds"] < 0.9  # charged: at least 1.0


def test_a_suffix_given_to_a_repeat_is_not_another_models_name(fitted_model, tiny_faces):
    knn = fit_model(tiny_faces, features="pixels", clf="knn").model
    result = compare_models([fitted_model, fitted_model, knn], tiny_faces, names=["a", "a", "a#2"])
    assert sorted(r["model"] for r in result.rows) == ["a", "a#2", "a#3"]


def test_mcnemar_pairs_the_models_of_its_rows_whatever_their_names(two_models, tiny_faces, monkeypatch):
    from fer_classic.evaluation import _compare

    expected = compare_models(two_models, tiny_faces).mcnemar
    monkeypatch.setattr(_compare, "_unique_names", lambda names: names)  # even equal names could not mix them up
    result = compare_models(list(two_models.values()), tiny_faces, names=["m", "m"])
    assert (result.mcnemar["b"], result.mcnemar["c"]) == (expected["b"], expected["c"])
    assert expected["b"] + expected["c"] > 0  # the models disagree somewhere, so a wrong pair would show


def _two_sizes_misaligned(monkeypatch, shift):
    """Two k-NN models of 16x16 and 20x20 faces, and a load_dataset whose 20x20 test images are shifted by ``shift``.

    As two face croppers skipping different images of equal count would: same number, other images.
    """
    import dataclasses

    import fer_classic.data
    from fer_classic.data import make_synthetic_faces

    def load_dataset(path, *, size, **kwargs):
        faces = make_synthetic_faces(3, 2, size=size, random_state=1)
        if tuple(size) == (20, 20):
            test = np.flatnonzero(faces.splits == "test")
            order = np.arange(len(faces))
            order[test] = np.roll(test, shift)
            faces = dataclasses.replace(faces, images=faces.images[order], labels=faces.labels[order],
                                        sources=faces.sources[order])
        return faces

    models = {f"m{size}": fit_model(make_synthetic_faces(3, 2, size=size, random_state=1), features="pixels",
                                    clf="knn", clf_params={"n_neighbors": 1}).model for size in (16, 20)}
    monkeypatch.setattr(fer_classic.data, "load_dataset", load_dataset)
    return models


def test_comparison_refuses_models_scored_on_other_images_of_equal_count(monkeypatch):
    models = _two_sizes_misaligned(monkeypatch, shift=1)
    with pytest.raises(ReportError, match=r"different images \(image 1 is synthetic:\d+ for the first, "
                                          r"synthetic:\d+ for the second\).*one --crop policy"):
        compare_models(models, "faces")


def test_comparison_takes_models_scored_on_the_same_images_at_other_sizes(monkeypatch):
    models = _two_sizes_misaligned(monkeypatch, shift=0)
    assert [r["n"] for r in compare_models(models, "faces").rows] == [14, 14]


def test_mcnemar_refuses_empty_input():
    with pytest.raises(ValueError, match="correct_a and correct_b are empty"):
        mcnemar_test([], [])


def test_compare_warns_once_of_a_trusted_type_no_model_names(tmp_path, fitted_model, tiny_faces):
    # A name one skops file needs was called useless ("leave --trust-type out") for every other model.
    import operator
    import warnings

    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from fer_classic import save_model
    from fer_classic.persistence import FERModel
    from fer_classic.workflow import compare_model_files as compare

    pipeline = make_pipeline(FunctionTransformer(operator.neg), DummyClassifier()).fit(tiny_faces.X, tiny_faces.y)
    foreign = save_model(FERModel(pipeline=pipeline, metadata={**fitted_model.metadata,
                                                               "classes": list(pipeline.classes_)}),
                         tmp_path / "foreign.skops")
    plain = save_model(fitted_model, tmp_path / "plain.joblib")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compare([plain, foreign], tiny_faces, trusted_types=["_operator.neg"])
    with pytest.warns(UserWarning, match=r"plain\.joblib, .*foreign\.skops do not name x\.Y beyond"):
        compare([plain, foreign], tiny_faces, trusted_types=["_operator.neg", "x.Y"])
