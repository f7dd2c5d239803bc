"""The mirror-averaged kernel: MirrorViews features and kernel SVMs with ``views=2``."""

import pickle

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.base import clone
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from fer_classic import make_pipeline
from fer_classic.cli import main
from fer_classic.estimators import CombinedKernelSVC, KernelSVC, LocalSVC, _kernel_svc, _local_svc, make_classifier
from fer_classic.estimators._histogram_kernels import kernel_matrix
from fer_classic.features import HOGFeatures, PixelFeatures
from fer_classic.model_selection import search_model
from fer_classic.preprocessing import MirrorViews, mirror_rows, n_mirror_views, shift_rows
from fer_classic.workflow import fit_model


def _images(n=40, side=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, size=(n, side * side)).astype(np.float64)
    y = np.arange(n) % 3
    X[y == 1, : side * side // 2] += 60  # the classes differ, not symmetrically
    return X, y


def _views(n=30, d=4, seed=0, views=2):
    """Rows of ``views`` views of ``d`` features each, three classes."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.random((n, views * d))
    X[y == 1, :2] += 1.0
    X[y == 2, d:d + 2] += 1.0
    return X, y


def _averaged(kernel, X, Y, d, **kw):
    """The average over all pairs of views (of ``d`` features each), written out."""
    starts = range(0, X.shape[1], d)
    pairs = [(X[:, a:a + d], Y[:, c:c + d]) for a in starts for c in starts]
    return sum(kernel(P, Q, **kw) for P, Q in pairs) / len(pairs)


# -- MirrorViews --------------------------------------------------------------------------------

def test_mirror_views_puts_the_mirror_features_beside_the_features():
    X, y = _images()
    views = MirrorViews(HOGFeatures(pixels_per_cell=(2, 2))).fit(X, y)
    inner = views.transformer_
    expected = np.hstack([inner.transform(X), inner.transform(mirror_rows(X, (8, 8)))]).astype(np.float32)
    np.testing.assert_array_equal(views.transform(X), expected)


def test_mirror_views_are_float32():
    X, y = _images()
    assert MirrorViews(PixelFeatures()).fit(X, y).transform(X).dtype == np.float32


def test_mirror_views_learns_only_from_the_images_as_they_are():
    X, y = _images()
    views = MirrorViews(Pipeline([("pixels", PixelFeatures()), ("scale", StandardScaler())])).fit(X, y)
    np.testing.assert_allclose(views.transformer_[-1].mean_, X.mean(axis=0) / 255.0)


def test_mirror_views_fit_transform_is_fit_then_transform():
    X, y = _images()
    views = MirrorViews(HOGFeatures(pixels_per_cell=(2, 2)))
    np.testing.assert_array_equal(views.fit_transform(X, y), views.fit(X, y).transform(X))


def test_mirror_views_names_the_mirror_features():
    X, y = _images()
    names = MirrorViews(PixelFeatures()).fit(X, y).get_feature_names_out()
    assert len(names) == 2 * X.shape[1]
    assert names[X.shape[1]] == f"mirror__{names[0]}"


@pytest.mark.parametrize("dx, expected", [(2, [0, 0, 0, 1, 2, 3]), (-2, [2, 3, 4, 5, 5, 5]), (0, [0, 1, 2, 3, 4, 5])])
def test_shift_rows_moves_the_image_and_repeats_the_border_column(dx, expected):
    X = np.tile(np.arange(6), 3)[None, :]  # one 3x6 image whose columns are numbered
    np.testing.assert_array_equal(shift_rows(X, (3, 6), dx).reshape(3, 6), np.tile(expected, (3, 1)))


def test_mirror_views_with_a_shift_has_six_views_in_order():
    X, y = _images()
    views = MirrorViews(PixelFeatures(), shift=2).fit(X, y)
    moved = [shift_rows(X, (8, 8), dx) for dx in (2, -2)]
    expected = [X, mirror_rows(X, (8, 8)), *moved, *(mirror_rows(m, (8, 8)) for m in moved)]
    assert views.n_views_ == 6
    np.testing.assert_allclose(views.transform(X), np.hstack(expected) / 255.0, rtol=1e-6)


@pytest.mark.parametrize("shift", [0, 1, 3])
def test_n_mirror_views_is_the_views_mirror_views_writes(shift):
    X, y = _images()
    views = MirrorViews(PixelFeatures(), shift=shift).fit(X, y)
    assert views.transform(X).shape[1] == n_mirror_views(shift) * X.shape[1] == views.n_views_ * X.shape[1]


def test_mirror_views_names_the_shifted_views():
    X, y = _images()
    names = MirrorViews(PixelFeatures(), shift=1).fit(X, y).get_feature_names_out()
    d = X.shape[1]
    assert [names[v * d] for v in range(6)] == [f"{p}{names[0]}" for p in
                                                ("", "mirror__", "shift+1__", "shift-1__", "mirror__shift+1__",
                                                 "mirror__shift-1__")]


@pytest.mark.parametrize("shift", [4, 7, 8])
def test_mirror_views_refuses_a_shift_of_half_the_width_or_more(shift):
    X, y = _images()  # 8x8: 3 pixels at most
    with pytest.raises(ValueError, match=rf"shift={shift} \(--kernel-shift\) moves the 8-pixel-wide images by half "
                                         r"their width or more: .* give at most 3 pixels"):
        MirrorViews(PixelFeatures(), shift=shift).fit(X, y)


# -- the kernel over views ----------------------------------------------------------------------

@pytest.fixture(params=[None, 7], ids=["one band", "bands of 7 rows"])
def pair_rows(request, monkeypatch):
    """Kernel rows added at once, or by bands of 7 rows (a short last band)."""
    if request.param is not None:
        monkeypatch.setattr(_kernel_svc, "_PAIR_ROWS", request.param)
    return request.param


# rbf: float32 dot products, on rows centred on the first view's mean here and on the other
# operand's in kernel_matrix.
@pytest.mark.parametrize("views", [2, 3])
@pytest.mark.parametrize("kernel, kw, rtol", [("rbf", {"gamma": 0.7}, 1e-6), ("linear", {}, 1e-10)])
def test_training_kernel_is_the_average_over_all_pairs_of_views(kernel, kw, rtol, views, pair_rows):
    X, y = _views(views=views)
    model = KernelSVC(kernel=kernel, views=views, normalize=False, **kw).fit(X, y)
    Xp = model._prepare(X)
    diag = model._diagonals(Xp)
    expected = _averaged(lambda P, Q: kernel_matrix(kernel, P, Q, gamma=0.7), X, X, 4)
    got = model._kernel(Xp, Xp, diag, diag)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(got, got.T, rtol=rtol, atol=1e-12)


def test_normalised_intersection_kernel_averages_each_pair_normalised(pair_rows):
    X, y = _views()
    Y = _views(n=7, seed=1)[0]
    model = KernelSVC(kernel="intersection", views=2).fit(X, y)

    def cosine(P, Q):
        K = kernel_matrix("intersection", P, Q)
        return K / np.sqrt(P.sum(axis=1))[:, None] / np.sqrt(Q.sum(axis=1))[None, :]

    Yp, Xp = model._prepare(Y), model._prepare(X)
    got = model._kernel(Yp, Xp, model._diagonals(Yp), model._diagonals(Xp))
    np.testing.assert_allclose(got, _averaged(cosine, Y, X, 4), rtol=1e-10)
    training = model._kernel(Xp, Xp, model._diagonals(Xp), model._diagonals(Xp))
    np.testing.assert_allclose(training, _averaged(cosine, X, X, 4), rtol=1e-10)


@pytest.mark.parametrize("kernel", ["rbf", "intersection"])
def test_swapping_the_views_of_a_face_changes_nothing(kernel):
    X, y = _views()
    swapped = np.hstack([X[:, 4:], X[:, :4]])
    model = KernelSVC(kernel=kernel, views=2, C=10).fit(X, y)
    np.testing.assert_allclose(model.decision_function(swapped), model.decision_function(X), atol=1e-8)


_SCORERS = [KernelSVC(kernel="rbf", views=2, C=10), KernelSVC(kernel="intersection", views=2, C=10),
            LocalSVC(KernelSVC(kernel="rbf", views=2), k=10, mode="refine")]


def _blocks_of_seven(monkeypatch):
    # Several blocks of new rows (7, or 28 with a side made by chunks), the last one short.
    monkeypatch.setattr(_kernel_svc, "_PREDICT_ROWS", 7)
    monkeypatch.setattr(_local_svc, "_ROWS", 5)  # and bands of nearest-neighbour search within them


def _training_side_calls(monkeypatch, n_rows):
    """Rows of the training side :meth:`_side` makes during a prediction (new rows' sides left out)."""
    calls = []
    real = KernelSVC._side
    monkeypatch.setattr(KernelSVC, "_side", lambda self, b, Zp, centre=None: (
        calls.append(len(Zp)) if centre is not None or len(Zp) == n_rows else None) or real(self, b, Zp, centre))
    return calls


@pytest.mark.parametrize("model", _SCORERS[::2], ids=["KernelSVC", "LocalSVC"])
def test_prediction_prepares_a_small_training_side_once_for_all_blocks(model, monkeypatch):
    X, y = _views()
    model = clone(model).fit(X, y)
    whole = model.decision_function(X[:11])
    _blocks_of_seven(monkeypatch)
    calls = _training_side_calls(monkeypatch, len(X))
    np.testing.assert_allclose(model.decision_function(X[:11]), whole, rtol=1e-12, atol=1e-12)
    assert sum(c >= 11 for c in calls) == 1  # one training side, then only new rows' sides


@pytest.mark.parametrize("model", _SCORERS, ids=["KernelSVC rbf", "KernelSVC intersection", "LocalSVC"])
def test_prediction_by_chunks_of_a_large_training_side_scores_as_one_side(model, monkeypatch):
    X, y = _views()
    model = clone(model).fit(X, y)
    whole = model.decision_function(X)
    estimator = getattr(model, "estimator_", model)
    monkeypatch.setattr(_kernel_svc, "_SIDE_BYTES", 4 * estimator._side_row_bytes())  # chunks of 4 rows
    _blocks_of_seven(monkeypatch)
    # rbf: float32 products of other shapes may round apart (~1e-7 of a kernel value).
    np.testing.assert_allclose(model.decision_function(X), whole, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("model", _SCORERS[::2], ids=["KernelSVC", "LocalSVC"])
def test_prediction_holds_no_copy_of_a_large_training_side(model, monkeypatch):
    # Before: the centred float32 side of every training row (or support vector) for the whole prediction.
    import tracemalloc

    rng = np.random.default_rng(0)
    X = rng.random((400, 2000)).astype(np.float32)
    y = np.repeat([0, 1], 200)
    model = clone(model).set_params(**({"estimator__C": 1e-3} if isinstance(model, LocalSVC) else {"C": 1e-3}))
    model.fit(X, y)  # a small C: every row a support vector
    monkeypatch.setattr(_kernel_svc, "_SIDE_BYTES", X.nbytes // 40)  # chunks of 10 rows
    model.decision_function(X[:2])  # the training kernel matrix LocalSVC keeps, made outside the trace
    tracemalloc.start()
    try:
        model.decision_function(X[:2])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 4


@pytest.mark.parametrize("kernel, dtype", [("rbf", np.float32), ("intersection", np.float64), ("linear", np.float64)])
def test_float32_rows_stay_float32_for_the_rbf_kernel_alone(kernel, dtype):
    X, y = _views()
    assert KernelSVC(kernel=kernel, views=2).fit(X.astype(np.float32), y).support_vectors_.dtype == dtype


@pytest.mark.parametrize("model", [KernelSVC(kernel="rbf", views=2), KernelSVC(kernel="intersection", views=2),
                                   LocalSVC(KernelSVC(kernel="rbf", views=2), k=10, mode="refine")])
def test_float32_rows_score_as_float64_rows(model):
    X, y = _views()
    single = clone(model).fit(X.astype(np.float32), y).decision_function(X.astype(np.float32))
    # Kernels equal to ~1e-7; libsvm stops within its tol=1e-3 of the optimum either way.
    np.testing.assert_allclose(single, clone(model).fit(X, y).decision_function(X), atol=1e-3)


def test_a_local_svm_keeps_float32_training_rows():
    X, y = _views()
    assert LocalSVC(KernelSVC(kernel="rbf", views=2), k=10).fit(X.astype(np.float32), y).X_fit_.dtype == np.float32


def test_gamma_scale_comes_from_the_first_view():
    X, y = _views()
    X[:, 4:] *= 3.0  # a second view of another spread
    model = KernelSVC(kernel="rbf", views=2).fit(X, y)
    np.testing.assert_allclose(model.gammas_, KernelSVC(kernel="rbf").fit(X[:, :4], y).gammas_)


def test_combined_kernel_blocks_are_the_widths_of_one_view():
    X, y = _views()
    model = CombinedKernelSVC(blocks=(2, 2), kernels=("rbf", "linear"), views=2).fit(X, y)
    assert model.block_slices_ == [slice(0, 2), slice(2, 4)]
    assert model.score(X, y) > 0.6


def test_features_that_do_not_split_into_views_are_an_error():
    X, y = _views()
    with pytest.raises(ValueError, match="views=2: X has 7 features, which do not split into 2 views"):
        KernelSVC(views=2).fit(X[:, :7], y)


def test_the_nearest_face_of_a_local_svm_is_nearest_in_the_averaged_kernel():
    # k(x, x) of the average is not 1 for rbf: the distance must use it.
    X, y = _views(n=45)
    T = _views(n=12, seed=3)[0]
    local = LocalSVC(KernelSVC(kernel="rbf", gamma=2.0, views=2), k=1).fit(X, y)
    K_xt = _averaged(rbf_kernel, T, X, 4, gamma=2.0)
    self_x = np.diag(_averaged(rbf_kernel, X, X, 4, gamma=2.0))
    nearest = np.argmin(self_x[None, :] - 2 * K_xt, axis=1)
    np.testing.assert_array_equal(local.predict(T), y[nearest])


def test_a_reloaded_local_svm_over_views_predicts_the_same():
    X, y = _views()
    local = LocalSVC(KernelSVC(kernel="rbf", views=2), k=10, mode="refine").fit(X, y)
    loaded = pickle.loads(pickle.dumps(local))
    assert getattr(loaded, "_train_kernel", None) is None  # a cache: recomputed, not saved
    np.testing.assert_array_equal(loaded.predict(X), local.predict(X))
    np.testing.assert_allclose(loaded.decision_function(X), local.decision_function(X), rtol=1e-12)


# -- the pipeline option ------------------------------------------------------------------------

@pytest.mark.parametrize("clf, key", [("kernel-svm", "estimator__views"), ("combined-svm", "estimator__views"),
                                      ("local-svm", "estimator__estimator__views")])
def test_mirror_kernel_wraps_features_and_scaler_and_sets_two_views(clf, key):
    pipeline = make_pipeline("hog+lbp", clf, mirror_kernel=True)
    assert [name for name, _ in pipeline.steps] == ["features", "clf"]
    assert isinstance(pipeline.named_steps["features"], MirrorViews)
    assert [name for name, _ in pipeline.named_steps["features"].transformer.steps] == ["features", "scale"]
    assert pipeline.named_steps["clf"].get_params()[key] == 2


@pytest.mark.parametrize("clf, key", [("kernel-svm", "estimator__views"), ("local-svm", "estimator__estimator__views")])
def test_kernel_shift_adds_four_views(clf, key):
    pipeline = make_pipeline("hog", clf, mirror_kernel=True, kernel_shift=3)
    assert pipeline.named_steps["features"].shift == 3
    assert pipeline.named_steps["clf"].get_params()[key] == 6


@pytest.mark.parametrize("clf, key", [("kernel-svm", "views"), ("local-svm", "estimator__views")])
def test_make_classifier_gives_the_views_to_the_kernel(clf, key):
    assert make_classifier(clf, views=2).estimator.get_params()[key] == 2


@pytest.mark.parametrize("name, params, match", [
    ("rf", {}, "'rf' has none"),
    ("kernel-svm", {"views": 0}, "positive integer"),
    ("local-svm", {"estimator__views": 3}, "estimator__views=3 disagree"),
])
def test_make_classifier_refuses_views_it_cannot_give(name, params, match):
    others = {key: value for key, value in params.items() if key != "views"}
    with pytest.raises(ValueError, match=match):
        make_classifier(name, views=params.get("views", 2), **others)


@pytest.mark.parametrize("options, match", [
    ({"clf": "svm", "mirror_kernel": True}, "'svm' has none"),
    ({"clf": "kernel-svm", "mirror_kernel": True, "flip": True}, "choose one"),
    ({"clf": "kernel-svm", "mirror_kernel": 1}, "mirror_kernel must be True or False"),
    ({"clf": "kernel-svm", "kernel_shift": 2}, "give mirror_kernel=True"),
    ({"clf": "kernel-svm", "mirror_kernel": True, "kernel_shift": -1}, "0 or more"),
    ({"clf": "kernel-svm", "mirror_kernel": True, "kernel_shift": 1.5}, "whole number of pixels"),
])
def test_mirror_kernel_refusals(options, match):
    with pytest.raises(ValueError, match=match):
        make_pipeline("hog", **options)


def test_the_command_line_names_the_option_before_loading_data(tmp_path):
    result = CliRunner().invoke(main, ["fit", "--data", str(tmp_path / "absent"), "--clf", "svm", "--mirror-kernel"])
    assert result.exit_code != 0
    assert "--mirror-kernel) needs a classifier whose kernel averages over views" in result.output
    assert "Traceback" not in result.output


def test_the_command_line_asks_for_mirror_kernel_with_kernel_shift(tmp_path):
    result = CliRunner().invoke(main, ["fit", "--data", str(tmp_path / "absent"), "--clf", "kernel-svm",
                                       "--kernel-shift", "2"])
    assert result.exit_code != 0
    assert "give mirror_kernel=True (--mirror-kernel) too" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["fit", "search"])
def test_the_command_line_refuses_a_kernel_shift_of_half_the_image_before_loading(tmp_path, command):
    result = CliRunner().invoke(main, [command, "--data", str(tmp_path / "absent"), "--clf", "kernel-svm",
                                       "--mirror-kernel", "--kernel-shift", "47"])
    assert result.exit_code == 1
    assert "shift=47 (--kernel-shift) moves the 48-pixel-wide images by half their width or more" in result.output
    assert "Traceback" not in result.output


def test_fit_with_kernel_shift_records_it(tiny_faces):
    result = fit_model(tiny_faces, features="hog", clf="kernel-svm", clf_params={"kernel": "rbf"},
                       mirror_kernel=True, kernel_shift=2)
    assert result.model.metadata["pipeline_options"]["kernel_shift"] == 2
    assert result.model.pipeline.named_steps["clf"].estimator_.views == 6


def test_fit_with_mirror_kernel_records_it(tiny_faces):
    result = fit_model(tiny_faces, features="hog", clf="kernel-svm", clf_params={"kernel": "rbf"},
                       mirror_kernel=True)
    assert result.model.metadata["pipeline_options"]["mirror_kernel"] is True
    assert result.metrics["accuracy"] > 0.5


def test_search_with_mirror_kernel_keeps_the_plain_grid_names(tiny_faces):
    result = search_model(tiny_faces, features="hog", clf="kernel-svm", mirror_kernel=True, cv=2,
                          grid={"features__pixels_per_cell": [(8, 8), (12, 12)], "clf__estimator__C": [1.0]})
    assert set(result.best_params) == {"features__transformer__features__pixels_per_cell", "clf__estimator__C"}
    assert result.model.metadata["pipeline_options"]["mirror_kernel"] is True


def _as_saved_before_views(model):
    """The state a model fitted before ``views`` existed held: no views, blocks' diagonals without a view axis."""
    state = model.__getstate__()
    inner = state.get("estimator_", model)
    inner_state = {k: v for k, v in inner.__getstate__().items() if k not in ("views", "view_width_")}
    if "support_diagonals_" in inner_state:
        inner_state["support_diagonals_"] = inner_state["support_diagonals_"][:, 0, :]
    old_inner = object.__new__(type(inner))
    old_inner.__dict__.update(inner_state)
    if inner is model:
        return inner_state
    return {**state, "estimator_": old_inner, "diagonals_": state["diagonals_"][:, 0, :]}


@pytest.mark.parametrize("model", [KernelSVC(kernel="rbf", C=10), LocalSVC(KernelSVC(kernel="intersection"), k=10)])
def test_a_model_saved_before_views_loads_and_predicts_the_same(model):
    X, y = _views()
    fitted = model.fit(X, y)
    loaded = object.__new__(type(fitted))
    loaded.__setstate__(pickle.loads(pickle.dumps(_as_saved_before_views(fitted))))
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
