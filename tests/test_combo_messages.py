"""Messages of option combinations: each names what works where the user is (probe_combo's findings)."""

import re

import numpy as np
import pytest

from fer_classic import make_pipeline
from fer_classic.model_selection import _short_param_name, check_grid, pipeline_param_name, search_model


@pytest.fixture(scope="module")
def small_faces():
    """Six train and two test faces per class, 24x24."""
    from fer_classic.data import make_synthetic_faces
    return make_synthetic_faces(6, 2, size=24, random_state=1)


def test_the_sampler_s_short_grid_name_names_its_step():
    # The SMOTE error advises sampler.k_neighbors in a search's --grid, which was refused.
    assert pipeline_param_name("sampler.k_neighbors", "hog") == "sampler__k_neighbors"
    assert _short_param_name("estimator__sampler__k_neighbors", "hog") == "sampler.k_neighbors"


def test_a_sampler_parameter_without_a_sampler_says_to_choose_one():
    with pytest.raises(ValueError, match="this pipeline has none: choose one with sampler= \\(--sampler"):
        check_grid(make_pipeline("hog", "svm"), {"sampler__k_neighbors": [2]})


def test_a_search_varies_the_sampler_by_its_short_name(small_faces):
    result = search_model(small_faces, features="pixels", clf="logreg", sampler="smote", cv=2,
                          grid={"sampler.k_neighbors": [1, 2]})
    assert set(result.best_params) == {"sampler__k_neighbors"}


@pytest.mark.parametrize("features, expected", [
    ("pca", "features__pca__n_components"),
    ("hog+pca", "features__pca__pca__n_components"),
])
def test_pca_short_names_reach_the_pca_inside_its_pipeline(features, expected):
    assert pipeline_param_name("pca.n_components", features) == expected
    assert _short_param_name(expected, features) == "pca.n_components"
    check_grid(make_pipeline(features, "svm"), {expected: [5]})


def test_a_misnamed_parameter_suggests_the_named_step_s_first():
    # It led with clf__estimator__n_components, the SVM's approximation size, for the features' PCA.
    with pytest.raises(ValueError, match="Did you mean features__pca__n_components, clf__estimator__n_components"):
        check_grid(make_pipeline("pca", "svm"), {"features__n_components": [5]})


@pytest.mark.parametrize("splits, fewer", [
    (None, "at most 42 with --cv publictest, at most the training rows of its smallest fold with --cv K"),
    # Grouped folds are uneven: the smallest training part bounds it (42 rows less a share was one too many).
    ([np.arange(20), np.arange(30)], '20 or less, e.g. {"pca.n_components": [20]}'),
], ids=["fit", "search's folds"])
def test_pca_above_the_training_rows_names_its_grid_entry(small_faces, splits, fewer):
    from fer_classic._training import check_candidates

    with pytest.raises(ValueError, match=re.escape(f"fewer components (pca.n_components in a search's --grid, "
                                                   f"{fewer})")):
        check_candidates(make_pipeline("pca", "svm"), small_faces.select("train"), folds=None if splits is None
                         else 2, splits=splits)


def test_search_s_mlp_early_stopping_error_gives_search_s_remedy(small_faces):
    # It said --param early_stopping=false, an option search does not have.
    with pytest.raises(ValueError, match=re.escape('early_stopping=False (the grid entry "clf.early_stopping": '
                                                   "[false], in a grid file of your own")):
        search_model(small_faces, features="pixels", clf="mlp", cv=2)


def test_fit_s_mlp_early_stopping_error_keeps_fit_s_remedy(small_faces):
    from fer_classic._training import check_candidates

    with pytest.raises(ValueError, match=re.escape("early_stopping=False (--param early_stopping=false)")):
        check_candidates(make_pipeline("pixels", "mlp"), small_faces.select("train"))


def test_param_help_says_values_are_json():
    from click.testing import CliRunner

    from fer_classic.cli import main

    result = CliRunner().invoke(main, ["fit", "--help"])
    assert "Values are JSON (true, false, null, [5, 3]" in " ".join(result.output.split())


@pytest.mark.parametrize("clf, given, json_value", [
    ("rf", "max_depth=None", "max_depth=null"),
    ("mlp", "early_stopping=False", "early_stopping=false"),
    ("mlp", "hidden_layer_sizes=(5,)", "hidden_layer_sizes=[5]"),
    ("mlp", "hidden_layer_sizes=5,3", "hidden_layer_sizes=[5, 3]"),
])
def test_a_python_spelling_refused_by_scikit_learn_is_told_its_json(tmp_path, monkeypatch, clf, given, json_value):
    # "must be an int in the range [1, inf) or None. Got 'None' instead." and no word of JSON's null.
    from click.testing import CliRunner

    from fer_classic.cli import main

    monkeypatch.setattr("fer_classic.workflow.load_data", lambda *a, **k: pytest.fail("data loaded"))
    result = CliRunner().invoke(main, ["fit", "--clf", clf, "--param", given, "--out", str(tmp_path / "m.joblib")])
    assert result.exit_code == 1
    assert f"--param values are JSON: write {json_value}." in result.output


def test_a_pipeline_option_in_clf_params_is_named_in_each_interface_s_words():
    from fer_classic.workflow import _check_clf_params

    with pytest.raises(ValueError, match=r"^clf_params 'random_state' is a pipeline option, not a classifier "
                                         r"parameter; give fit_model's random_state= instead\.$"):
        _check_clf_params({"random_state": 5})
    with pytest.raises(ValueError, match=r"^--param random_state=\.\.\. is a pipeline option, not a classifier "
                                         r"parameter; use --seed instead\.$"):
        _check_clf_params({"random_state": 5}, command_line=True)


def test_groups_on_data_with_its_own_test_split_is_warned(small_faces):
    from fer_classic import fit_model

    with pytest.warns(UserWarning, match=r"groups='\(\.\)' \(--groups\) does nothing here: .* has its own test split"):
        fit_model(small_faces, features="pixels", clf="ridge", groups="(.)")


def test_held_out_of_other_data_says_it_is_not_the_model_s_data(small_faces):
    # It advised --split test, a split fer200.csv does not have, for a model fitted on a folder's train split.
    import dataclasses

    from fer_classic import fit_model
    from fer_classic.data import make_synthetic_faces
    from fer_classic.workflow import _recompute_held_out

    model = fit_model(small_faces, features="pixels", clf="ridge").model
    other = dataclasses.replace(make_synthetic_faces(3, 0, size=24, random_state=5), name="other.csv")
    with pytest.raises(ValueError, match=r"other\.csv is not the model's data .* score all of them \(--split all\)"):
        _recompute_held_out(model, other)
    with pytest.raises(ValueError, match=r"the model held nothing out: .*; score --split test\.$"):
        _recompute_held_out(model, small_faces)


def test_held_out_of_the_model_s_training_images_alone_names_no_test_split(small_faces):
    # A copy of the data holding only its train split was told to score --split test.
    from fer_classic import fit_model
    from fer_classic.workflow import _recompute_held_out

    model = fit_model(small_faces, features="pixels", clf="ridge").model
    with pytest.raises(ValueError, match=r"held nothing out: .* holds no test split: score the model on data it "
                                         r"was not trained on\.$"):
        _recompute_held_out(model, small_faces.select("train"))


@pytest.mark.parametrize("other, advice", [
    ("val", "score --split val"),  # was told to score data the model was not trained on
    ("", "score the model on data it was not trained on"),  # was told "score --split ."
])
def test_held_out_of_a_copy_with_another_split_names_it(small_faces, other, advice):
    import numpy as np

    from fer_classic import fit_model
    from fer_classic.workflow import _recompute_held_out

    model = fit_model(small_faces, features="pixels", clf="ridge").model
    copy = small_faces.with_splits(np.where(small_faces.splits == "test", other, small_faces.splits))
    with pytest.raises(ValueError, match=rf"held nothing out: .* holds no test split: {advice}\.$"):
        _recompute_held_out(model, copy)


def test_json_advice_names_only_the_refused_parameter():
    from fer_classic.cli import _json_advice

    message = "The 'max_depth' parameter of RandomForestClassifier must be an int or None. Got 'None' instead."
    assert _json_advice({"class_weight": "None", "max_depth": "None"}, message) == (
        " --param values are JSON: write max_depth=null.")


@pytest.mark.parametrize("features", ["hog+sift", "lbp+vlad"])
def test_combined_svm_over_a_sift_codebook_warns_with_the_blocks_to_give(features):
    # It said "give blocks=[the columns of each extractor]" and that sift's were known only after fitting.
    from fer_classic.features import FEATURES
    from fer_classic.features._registry import feature_widths
    from fer_classic.pipeline import combined_blocks

    first, codebook = features.split("+")
    expected = [feature_widths(first, (24, 24))[0], FEATURES[codebook]()._columns()]
    with pytest.warns(UserWarning, match=re.escape(f"give blocks={expected}, the columns of {first}, {codebook} with "
                                                   "their default parameters (--param blocks=[...])")):
        assert combined_blocks(features, "combined-svm", {}, (24, 24)) is None


@pytest.fixture
def model_and_crop(tmp_path, fitted_model):
    import cv2

    from conftest import random_gray
    from fer_classic import save_model

    cv2.imwrite(str(tmp_path / "crop.png"), random_gray((48, 48), seed=2))
    return str(save_model(fitted_model, tmp_path / "m.joblib")), str(tmp_path / "crop.png")


@pytest.mark.parametrize("options, warning", [
    (["--every", "3"], "warning: --every 3 (every=3): no input is a video, so no frame is skipped"),
    (["--detect", "never", "--fallback", "none"], "warning: --fallback none does nothing with --detect never"),
    (["--detect", "never", "--yunet", "NOT_ONNX"], "warning: --yunet NOT_ONNX does nothing with --detect never"),
])
def test_predict_options_that_do_nothing_here_are_warned(model_and_crop, options, warning):
    # Each was accepted without a word (rc 0); --yunet's file was even loaded, failing when it was no ONNX model.
    from click.testing import CliRunner

    from fer_classic.cli import main

    model, crop = model_and_crop
    options = [crop if o == "NOT_ONNX" else o for o in options]
    warning = warning.replace("NOT_ONNX", crop)
    result = CliRunner().invoke(main, ["predict", model, crop, *options])
    assert result.exit_code == 0, result.output
    assert warning in result.output


@pytest.mark.parametrize("given, message, advice", [
    ("None", "The 'max_depth' parameter of X must be an int in the range [1, inf) or None. Got 'None' instead.",
     " --param values are JSON: write max_depth=null."),
    # C takes no None: null would be refused again.
    ("None", "The 'max_depth' parameter of X must be a float in the range (0.0, inf). Got 'None' instead.", ""),
])
def test_json_advice_offers_only_what_the_parameter_takes(given, message, advice):
    from fer_classic.cli import _json_advice

    assert _json_advice({"max_depth": given}, message) == advice


def test_k_nn_without_a_number_of_neighbours_is_refused_before_the_features(small_faces):
    # scikit-learn fitted n_neighbors=None, then failed predicting: "unexpected TypeError ... a bug in fer-classic".
    from fer_classic._training import check_candidates

    with pytest.raises(ValueError, match=r"n_neighbors=None gives k-NN no number of neighbours"):
        check_candidates(make_pipeline("hog", "knn").set_params(clf__estimator__n_neighbors=None),
                         small_faces.select("train"))
