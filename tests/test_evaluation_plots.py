"""Plots render headless to PNG; matplotlib stays optional."""

import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.metrics import get_scorer

pytest.importorskip("matplotlib")

from fer_classic import make_pipeline  # noqa: E402
from fer_classic.evaluation import (  # noqa: E402
    classification_metrics,
    compute_learning_curve,
    compute_validation_curve,
    figure_to_png,
    plot_average_faces,
    plot_class_distribution,
    plot_confusion_matrix,
    plot_feature_pca,
    plot_learning_curve,
    plot_per_class_f1,
    plot_roc_curves,
    plot_sample_predictions,
    plot_validation_curve,
    write_report,
)

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def scored(fitted_model, tiny_faces):
    test = tiny_faces.select("test")
    predicted = fitted_model.predict(test.images)
    _, scores = fitted_model.scores(test.images)
    return test, predicted, scores, classification_metrics(test.y, predicted, fitted_model.classes, scores=scores)


@pytest.fixture(scope="module")
def curves(tiny_faces):
    train = tiny_faces.select("train")
    pipe = make_pipeline("pixels", "knn")  # instant fits
    learning = compute_learning_curve(pipe, train.X, train.y, train_sizes=(0.5, 1.0), cv=3)
    validation = compute_validation_curve(pipe, train.X, train.y, param_name="clf__estimator__n_neighbors",
                                          param_range=[1, 5], cv=3)
    return learning, validation


PLOTS = {
    "confusion": lambda s, m, d, c: plot_confusion_matrix(s[3]),
    "confusion-counts": lambda s, m, d, c: plot_confusion_matrix(s[3], normalize=False),
    "per-class-f1": lambda s, m, d, c: plot_per_class_f1(s[3]),
    "roc": lambda s, m, d, c: plot_roc_curves(s[0].y, s[2], m.classes),
    "samples": lambda s, m, d, c: plot_sample_predictions(s[0].images, s[0].y, s[1]),
    "distribution": lambda s, m, d, c: plot_class_distribution(d),
    "average-faces": lambda s, m, d, c: plot_average_faces(s[0].images, s[0].y, m.classes),
    "pca": lambda s, m, d, c: plot_feature_pca(s[0].X, s[0].y, max_points=10),
    "learning-curve": lambda s, m, d, c: plot_learning_curve(c[0]),
    "validation-curve": lambda s, m, d, c: plot_validation_curve(c[1]),
}


@pytest.mark.parametrize("name", PLOTS)
def test_plot_renders_png(name, scored, fitted_model, tiny_faces, curves):
    figure = PLOTS[name](scored, fitted_model, tiny_faces, curves)
    assert figure_to_png(figure).startswith(PNG)


def test_confusion_plot_labels_axes_with_class_names(scored, fitted_model):
    ax = plot_confusion_matrix(scored[3]).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == fitted_model.classes


def test_sample_grid_titles_show_true_and_predicted(scored):
    test, predicted, _, _ = scored
    figure = plot_sample_predictions(test.images, test.y, predicted, n_correct=2, n_wrong=2)
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert titles and all(t.startswith("true ") and "\npred " in t for t in titles)


def test_per_class_f1_draws_no_bar_for_a_class_absent_from_data_and_predictions():
    metrics = classification_metrics(["happy", "sad", "sad"], ["happy", "sad", "happy"], ["happy", "sad", "fear"])
    ax = plot_per_class_f1(metrics).axes[0]
    assert len(ax.patches) == 2  # happy and sad: fear has no F1 (the macro average leaves it out)
    assert "absent" in ax.texts[2].get_text() and "absent" not in ax.texts[1].get_text()


def test_class_distribution_legend_takes_a_split_name(tiny_faces):
    ax = plot_class_distribution(tiny_faces, split_names={"test": "held-out"}).axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["train (84)", "held-out (28)"]  # the held-out images a report scores as "test"


def test_learning_curve_x_is_training_sizes(curves):
    assert curves[0].kind == "learning" and curves[0].x == sorted(curves[0].x)
    assert curves[0].test_scores.shape == (2, 3)


def test_validation_curve_summary_is_json_ready(curves):
    import json

    summary = curves[1].summary()
    assert summary["x"] == [1, 5] and len(summary["test_mean"]) == 2
    json.dumps(summary)


def test_validation_curve_rejects_unknown_parameter(tiny_faces):
    train = tiny_faces.select("train")
    with pytest.raises(ValueError, match="Did you mean clf__estimator__n_neighbors"):
        compute_validation_curve(make_pipeline("pixels", "knn"), train.X, train.y, param_name="n_neighbors",
                                 param_range=[1])


@pytest.mark.parametrize("call", [
    lambda m, d, tmp: plot_average_faces(d.images, d.labels),
    lambda m, d, tmp: write_report(m, d, tmp / "report"),
])
def test_missing_matplotlib_names_the_install_command(monkeypatch, fitted_model, tiny_faces, tmp_path, call):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'fer-classic\[plot\]'"):
        call(fitted_model, tiny_faces, tmp_path)
    assert not (tmp_path / "report").exists()  # raised before writing anything


def test_plots_do_not_touch_pyplot_state(scored):
    plot_per_class_f1(scored[3])
    assert "matplotlib.pyplot" not in sys.modules or not __import__("matplotlib.pyplot").pyplot.get_fignums()


def test_pca_of_a_subset_is_seeded(scored):
    test = scored[0]
    a = plot_feature_pca(test.X, test.y, max_points=12, random_state=1).axes[0].collections[0].get_offsets()
    b = plot_feature_pca(test.X, test.y, max_points=12, random_state=1).axes[0].collections[0].get_offsets()
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n", [1, 3], ids=["one face", "identical faces"])
def test_pca_of_faces_without_spread_is_drawn_without_warnings(scored, n):
    test = scored[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PCA divided one face's variance by n - 1 = 0
        figure = plot_feature_pca(np.repeat(test.X[:1], n, axis=0), np.repeat(test.y[:1], n))
    assert figure.axes[0].collections[0].get_offsets().shape == (n, 2)


def test_a_small_share_of_class_ordered_images_holds_several_classes(tiny_faces):
    # Without shuffling, the first tenth of each fold's (class-ordered) training part is one class: no fit.
    train = tiny_faces.select("train")
    order = np.argsort(train.y, kind="stable")
    curve = compute_learning_curve(make_pipeline("pixels", "ridge"), train.X[order], train.y[order],
                                   train_sizes=(0.1, 1.0), cv=3)
    assert np.isfinite(curve.test_scores).all()


def test_curve_summary_is_strict_json_where_every_fit_failed():
    import json

    from fer_classic.evaluation import CurveResult

    nan = np.full((1, 3), np.nan)
    summary = CurveResult("learning", [5], "training images", nan, nan, "accuracy").summary()
    assert json.loads(json.dumps(summary, allow_nan=False))["test_mean"] == [None]


def _one_failed_fold():
    from fer_classic.evaluation import CurveResult

    test = np.array([[0.45, 0.6, np.nan, 0.5, 0.35], [0.5, 0.5, 0.5, 0.5, 0.5]])
    train = np.where(np.isnan(test), np.nan, 0.9)
    return CurveResult("validation", [10, 1], "C", train, test, "accuracy")


def test_curve_summary_averages_the_folds_scored_and_counts_the_failed_ones():
    # One failed fold made the whole point None.
    summary = _one_failed_fold().summary()
    np.testing.assert_allclose(summary["test_mean"], [0.475, 0.5])
    assert summary["failed_folds"] == [1, 0]


def test_curve_plot_draws_a_point_one_fold_of_which_failed():
    figure = plot_validation_curve(_one_failed_fold())
    assert all(np.isfinite(line.get_ydata()).all() for line in figure.axes[0].get_lines())


def test_curve_summary_is_strict_json_for_infinite_parameter_values():
    # report-search --values inf,2 (a k-NN's p) wrote "Infinity" into curves.json, which is no JSON.
    import json

    from fer_classic.evaluation import CurveResult

    scores = np.ones((3, 2))
    summary = CurveResult("validation", [float("inf"), np.float64("-inf"), 2.0], "p", scores, scores,
                          "accuracy").summary()
    assert json.loads(json.dumps(summary, allow_nan=False))["x"] == ["inf", "-inf", 2.0]


@pytest.mark.parametrize("scoring", ["neg_log_loss", "roc_auc_ovr", get_scorer("top_k_accuracy")],
                         ids=["neg_log_loss", "roc_auc_ovr", "scorer object"])
def test_curves_score_probability_columns_as_the_bare_classifier(tiny_faces, scoring):
    """Those scorers read the columns in sorted order (refused when the columns were canonical)."""
    ours = make_pipeline("pixels", "logreg")
    bare = clone(ours).set_params(clf=ours.named_steps["clf"].estimator)
    curves = [compute_validation_curve(model, tiny_faces.X, tiny_faces.y, scoring=scoring, cv=2,
                                       param_name="scale__with_mean", param_range=[True]) for model in (ours, bare)]
    np.testing.assert_allclose(curves[0].test_scores, curves[1].test_scores, rtol=1e-6)


def test_curves_of_a_classifier_in_sorted_order_take_probability_scorers(tiny_faces):
    curve = compute_learning_curve(DummyClassifier(), tiny_faces.X, tiny_faces.y, scoring="neg_log_loss",
                                   train_sizes=(1.0,), cv=2)
    assert np.isfinite(curve.test_scores).all()


def _two_blobs():
    rng = np.random.RandomState(0)
    return rng.normal(size=(12, 3)), np.repeat(["happy", "sad"], 6)


def test_validation_curve_warns_of_failed_fits_with_their_error():
    # scikit-learn 1.9 scores a failed fit NaN without a warning: C=-1 was silently a point without a score.
    from sklearn.exceptions import FitFailedWarning
    from sklearn.linear_model import LogisticRegression

    X, y = _two_blobs()
    with pytest.warns(FitFailedWarning, match=r"C=-1.0: 3 of 3 folds.*First error \(C=-1.0\): "
                                              r"InvalidParameterError: The 'C' parameter"):
        curve = compute_validation_curve(LogisticRegression(), X, y, param_name="C", param_range=[1.0, -1.0], cv=3)
    assert curve.summary()["failed_folds"] == [0, 3]


def test_learning_curve_warns_of_failed_fits():
    from sklearn.exceptions import FitFailedWarning
    from sklearn.neighbors import KNeighborsClassifier

    X, y = _two_blobs()
    with pytest.warns(FitFailedWarning, match=r"Learning curve: fits failed \(2 training images: 3 of 3 folds\)"):
        compute_learning_curve(KNeighborsClassifier(n_neighbors=5), X, y, train_sizes=(2, 8), cv=3)


def test_curves_without_failed_fits_do_not_warn():
    from sklearn.neighbors import KNeighborsClassifier

    X, y = _two_blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compute_validation_curve(KNeighborsClassifier(), X, y, param_name="n_neighbors", param_range=[1, 3], cv=3)


def test_roc_curves_check_labels_as_roc_auc_ovr_does():
    with pytest.raises(ValueError, match="No label of y_true"):
        plot_roc_curves([0, 1], [[0.2, 0.8], [0.7, 0.3]], ["happy", "sad"])


def test_curve_summary_gives_numpy_scalars_as_python_values():
    from fer_classic.evaluation import CurveResult

    scores = np.full((4, 2), 0.5)
    x = [np.int64(1), np.float64(np.inf), np.str_("rbf"), np.bool_(True)]
    summary = CurveResult("validation", x, "C", scores, scores, "accuracy").summary()
    assert summary["x"] == [1, "inf", "rbf", True]
    assert type(summary["x"][0]) is int and type(summary["x"][3]) is bool


def test_text_is_drawn_as_written_not_as_mathtext_or_hidden():
    names = ["$x^$", "_y"]
    y = np.array(names * 3)
    metrics = classification_metrics(y, y[::-1], names)
    scores = np.tile([[0.8, 0.2], [0.3, 0.7]], (3, 1))
    for figure in plot_confusion_matrix(metrics, title="$a^$"), plot_roc_curves(y, scores, names):
        figure_to_png(figure, dpi=10)  # mathtext was parsed on drawing: ParseSyntaxException
    pca = plot_feature_pca(np.arange(12.0).reshape(6, 2) ** 2, y)
    assert [t.get_text() for t in pca.axes[0].get_legend().get_texts()] == ["\\$x^\\$", "\u200b_y"]


@pytest.mark.parametrize("plot, args, names", [
    (plot_sample_predictions, (np.zeros((3, 8, 8)), ["sad"] * 3, ["sad"] * 2),
     r"images \(3\), y_true \(3\), y_pred \(2\)"),
    (plot_average_faces, (np.zeros((3, 8, 8)), ["sad"] * 2), r"images \(3\), labels \(2\)"),
    (plot_feature_pca, (np.zeros((5, 4)), ["sad"] * 3), r"features \(5\), labels \(3\)"),
], ids=["samples", "average", "pca"])
def test_arrays_of_different_lengths_are_named(plot, args, names):
    # numpy's broadcast or boolean-index error named none of the arguments.
    with pytest.raises(ValueError, match=f"one row per image is needed in each of {names}"):
        plot(*args)


@pytest.mark.parametrize("plot", [
    lambda images: plot_sample_predictions(images, ["sad", "happy"], ["sad", "sad"]),
    lambda images: plot_average_faces(images, ["sad", "happy"]),
], ids=["samples", "average-faces"])
def test_faces_given_as_floats_in_0_1_are_drawn_as_their_8_bit_levels(plot):
    # They were drawn on a 0..255 scale as they were: black.
    faces = np.full((2, 4, 4), 0.5)
    drawn = [ax.images[0].get_array() for ax in plot(faces).axes if ax.images]
    assert len(drawn) == 2 and all(np.allclose(image, 127.5) for image in drawn)


def _drawn_means(figure):
    return [ax.images[0].get_array().data for ax in figure.axes]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, bool])
def test_average_faces_are_the_means_of_a_float64_copy(monkeypatch, dtype):
    # The means are summed a few images at a time (F4: no float64 copy of every image): the picture stays that
    # of the float64 copy's means, bit for bit from integer levels, to rounding from floats.
    from fer_classic.data._levels import read_levels
    from fer_classic.evaluation import _plots

    monkeypatch.setattr(_plots, "_MEAN_CHUNK", 7, raising=False)  # several chunks, one ending mid-class
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 6, 5)).astype(dtype)
    if dtype is np.uint16:
        images[::3] *= 257  # some 16-bit images, read divided by 257
    elif dtype is np.float32:
        images[::2] /= 255  # some images in 0..1, read times 255
    labels = np.array(["sad", "happy", "angry"])[rng.integers(0, 3, 40)]
    figure = plot_average_faces(images, labels)
    levels = read_levels(images).astype(float)
    expected = [levels[labels == name].mean(axis=0) for name in ("angry", "happy", "sad")]
    if dtype is np.float32:
        for got, want in zip(_drawn_means(figure), expected):
            np.testing.assert_allclose(got, want, rtol=1e-12)
    else:
        for got, want in zip(_drawn_means(figure), expected):
            np.testing.assert_array_equal(got, want)
    titles = [f"{name}\n(n={np.sum(labels == name)})" for name in ("angry", "happy", "sad")]
    assert [ax.get_title() for ax in figure.axes] == titles


def test_average_faces_take_no_float_copy_of_every_image():
    # F4: every image was converted to float64 (8 bytes a pixel) before the means: 2.4 GB for 128k faces.
    import tracemalloc

    images = np.random.default_rng(0).integers(0, 256, (6000, 48, 48), dtype=np.uint8)
    labels = np.array(["sad", "happy"])[np.arange(6000) % 2]
    tracemalloc.start()
    try:
        plot_average_faces(images, labels)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < images.nbytes  # the float64 copy alone was 8 x images.nbytes


def test_pca_draws_the_seeded_subset_of_float32_features_without_a_whole_float64_copy():
    # F4: float32 features were converted to float64 whole before the subset was drawn. Same points, less memory.
    import tracemalloc

    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    features = rng.normal(size=(40000, 50)).astype(np.float32)
    labels = np.array(["sad", "happy"])[np.arange(40000) % 2]
    tracemalloc.start()
    try:
        figure = plot_feature_pca(features, labels, classes=["happy", "sad"], max_points=300, random_state=3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < features.nbytes  # the float64 copy alone was 2 x features.nbytes
    keep = np.sort(np.random.default_rng(3).choice(40000, 300, replace=False))
    points = PCA(n_components=2, random_state=3).fit_transform(features[keep].astype(float))
    for collection, name in zip(figure.axes[0].collections, ["happy", "sad"]):
        np.testing.assert_array_equal(collection.get_offsets(), points[labels[keep] == name])
