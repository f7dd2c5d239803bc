import pickle
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest

from fer_classic import load_model, save_model
from fer_classic.exceptions import IncompatibleModelError, ModelFileError, VersionMismatchWarning
from fer_classic.persistence import FORMAT, FORMAT_VERSION


def test_round_trip_keeps_predictions_and_metadata(tmp_path, fitted_model, tiny_faces):
    path = save_model(fitted_model, tmp_path / "m.joblib")
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(tiny_faces.images), fitted_model.predict(tiny_faces.images))
    assert loaded.metadata == fitted_model.metadata


@pytest.mark.parametrize("key", ["classes", "image_shape", "preprocessing", "features", "classifier",
                                 "params", "versions", "training", "metrics", "timings"])
def test_metadata_holds_what_reuse_needs(fitted_model, key):
    assert fitted_model.metadata[key]


def test_reload_in_a_new_process_gives_identical_predictions(tmp_path, fitted_model, tiny_faces):
    path = save_model(fitted_model, tmp_path / "m.joblib")
    np.save(tmp_path / "images.npy", tiny_faces.images)
    script = textwrap.dedent(f"""
        import numpy as np
        from fer_classic import load_model
        model = load_model({str(path)!r})
        print(",".join(model.predict(np.load({str(tmp_path / 'images.npy')!r}))))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip().split(",") == fitted_model.predict(tiny_faces.images).tolist()


def test_save_replaces_atomically_and_leaves_no_temp_file(tmp_path, fitted_model):
    path = tmp_path / "m.joblib"
    path.write_bytes(b"old")
    save_model(fitted_model, path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.joblib"]
    assert load_model(path).classes == fitted_model.classes


def test_failed_save_keeps_the_old_file(tmp_path, fitted_model, monkeypatch):
    path = tmp_path / "m.joblib"
    path.write_bytes(b"old")

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(joblib, "dump", boom)
    with pytest.raises(KeyboardInterrupt):
        save_model(fitted_model, path)
    assert path.read_bytes() == b"old" and len(list(tmp_path.iterdir())) == 1


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "none.joblib")


@pytest.mark.parametrize("content", [b"", b"random bytes, not a pickle"])
def test_non_model_file_is_a_model_file_error(tmp_path, content):
    path = tmp_path / "m.joblib"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match="not a readable fer-classic model"):
        load_model(path)


def test_truncated_model_file_is_reported(tmp_path, fitted_model):
    path = save_model(fitted_model, tmp_path / "m.joblib")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ModelFileError, match="damaged, truncated"):
        load_model(path)


def test_other_joblib_payload_is_not_a_model(tmp_path):
    path = tmp_path / "m.joblib"
    joblib.dump({"weights": [1, 2]}, path)
    with pytest.raises(ModelFileError, match="not a fer-classic model"):
        load_model(path)


def _write_payload(path, model, **changes):
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "metadata": dict(model.metadata),
               "pipeline": model.pipeline}
    payload.update(changes)
    with open(path, "wb") as handle:
        pickle.dump(payload, handle)
    return path


def test_newer_format_version_is_incompatible(tmp_path, fitted_model):
    path = _write_payload(tmp_path / "m.joblib", fitted_model, format_version=FORMAT_VERSION + 1)
    with pytest.raises(IncompatibleModelError, match="Upgrade fer-classic or refit"):
        load_model(path)


def test_other_library_versions_warn(tmp_path, fitted_model):
    metadata = {**fitted_model.metadata, "versions": {**fitted_model.metadata["versions"], "scikit-learn": "0.1"}}
    path = _write_payload(tmp_path / "m.joblib", fitted_model, metadata=metadata)
    with pytest.warns(VersionMismatchWarning, match="scikit-learn 0.1"):
        load_model(path)


def test_predict_rejects_wrong_geometry(fitted_model):
    with pytest.raises(ValueError, match="takes 48x48 grayscale images"):
        fitted_model.predict(np.zeros((2, 32, 32), np.uint8))


def test_scores_without_probabilities_are_decision_values(fitted_model, tiny_faces):
    kind, scores = fitted_model.scores(tiny_faces.images[:3])
    assert kind == "decision" and scores.shape == (3, len(fitted_model.classes))
