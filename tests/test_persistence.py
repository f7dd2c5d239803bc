import hashlib
import io
import operator
import os
import pickle
import re
import stat
import subprocess
import sys
import textwrap
import warnings
import zipfile
import zlib

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import make_pipeline as sk_make_pipeline
from sklearn.preprocessing import FunctionTransformer

from conftest import reseal_skops
from fer_classic import inspect_model, load_model, save_model
from fer_classic.exceptions import (
    IncompatibleModelError,
    ModelFileError,
    ModelIntegrityError,
    UntrustedModelError,
    VersionMismatchWarning,
)
from fer_classic.persistence import FORMAT, FORMAT_VERSION, FERModel, _files, format_model_info, key_path, start_save


@pytest.fixture(params=["joblib", "skops"])
def model_format(request):
    return request.param


def test_round_trip_keeps_predictions_and_metadata(tmp_path, fitted_model, tiny_faces, model_format):
    path = save_model(fitted_model, tmp_path / f"m.{model_format}")
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(tiny_faces.images), fitted_model.predict(tiny_faces.images))
    # save_model adds the sizes of the pipeline's arrays (for inspect); the rest comes back as it was.
    assert {k: v for k, v in loaded.metadata.items() if k != "sizes"} == fitted_model.metadata
    assert set(loaded.metadata["sizes"]) == {"steps", "arrays", "compressed"}


def test_started_save_records_metadata_added_before_it_finishes(tmp_path, fitted_model, model_format):
    model = FERModel(pipeline=fitted_model.pipeline, metadata=dict(fitted_model.metadata))
    saving = start_save(model, tmp_path / f"m.{model_format}")
    model.metadata["metrics"] = {"accuracy": 0.5, "n": 3}
    assert load_model(saving.finish()).metadata["metrics"] == {"accuracy": 0.5, "n": 3}


def test_started_save_keeps_the_pipeline_as_it_was_at_the_start(tmp_path, fitted_model, tiny_faces):
    saving = start_save(fitted_model, tmp_path / "m.joblib")
    fitted_model.pipeline.steps.append(("later", "passthrough"))
    try:
        loaded = load_model(saving.finish())
    finally:
        fitted_model.pipeline.steps.pop()
    assert [name for name, _ in loaded.pipeline.steps] == [name for name, _ in fitted_model.pipeline.steps]


def test_joblib_payload_is_joblibs_compressed_stream(tmp_path, fitted_model, tiny_faces):
    # Files written before start_save (joblib.dump(compress=3)) and after are read the same way.
    payload = pickle.loads((save_model(fitted_model, tmp_path / "m.joblib")).read_bytes())["payload"]
    assert payload[:1] == b"\x78"  # zlib
    pipeline = joblib.load(io.BytesIO(payload))
    np.testing.assert_array_equal(pipeline.predict(tiny_faces.X), fitted_model.pipeline.predict(tiny_faces.X))


@pytest.fixture
def incompressible():
    # Random float32 values: zlib shrinks them by a tenth at most, as a model's training features.
    return {"features": np.random.default_rng(0).random(2_500_000, dtype=np.float32)}  # 10 MB


def test_joblib_payload_compressed_by_chunks_is_zlibs_whole_stream(monkeypatch, tmp_path, incompressible):
    from fer_classic.persistence import _joblib_format

    monkeypatch.setattr(_joblib_format, "_CHUNK", 2**20)  # ten chunks
    raw = io.BytesIO()
    joblib.dump(incompressible, raw, compress=0)
    payload = _joblib_format.encode_joblib(incompressible, tmp_path).result()
    assert zlib.decompress(payload) == raw.getvalue()
    if "ng" not in zlib.ZLIB_RUNTIME_VERSION:  # zlib-ng's stream may depend on the chunks; any zlib reads it
        assert payload == zlib.compress(raw.getvalue(), 3)


def test_joblib_payload_is_never_whole_in_memory_twice(monkeypatch, tmp_path):
    # zlib.compress held the raw pickle, the compressed bytes and a copy of them as it trimmed them: 3.2 times the
    # features traced, against 1.26 by chunks (joblib.dump's own 16 MB chunks beside the raw pickle).
    import tracemalloc

    from fer_classic.persistence import _joblib_format

    monkeypatch.setattr(_joblib_format, "_CHUNK", 2**20)
    features = np.random.default_rng(0).random(10_000_000, dtype=np.float32)  # 40 MB
    tracemalloc.start()
    try:
        _joblib_format.encode_joblib({"features": features}, tmp_path).result()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * features.nbytes


def test_joblib_payload_closes_its_temporary_file_when_read(tmp_path, incompressible):
    from fer_classic.persistence import _joblib_format

    payload = _joblib_format.encode_joblib(incompressible, tmp_path)
    payload.result()
    assert payload._spool.closed and list(tmp_path.iterdir()) == []


def test_joblib_payload_can_be_read_again(tmp_path, incompressible):
    # finish() retried after a failed write (a full disk) reads the same bytes, not a closed file.
    from fer_classic.persistence import _joblib_format

    payload = _joblib_format.encode_joblib(incompressible, tmp_path)
    assert payload.result() == payload.result()


def test_an_abandoned_joblib_payload_closes_its_temporary_file(tmp_path, incompressible):
    # start_save then a failed scoring: finish() never comes.
    import gc

    from fer_classic.persistence import _joblib_format

    payload = _joblib_format.encode_joblib(incompressible, tmp_path)
    payload._future.result()
    spool = payload._spool
    del payload
    gc.collect()
    assert spool.closed


@pytest.mark.parametrize("key", ["classes", "image_shape", "preprocessing", "features", "classifier",
                                 "params", "versions", "training", "metrics", "timings"])
def test_metadata_holds_what_reuse_needs(fitted_model, key):
    assert fitted_model.metadata[key]


def test_reload_in_a_new_process_gives_identical_predictions(tmp_path, fitted_model, tiny_faces, model_format):
    path = save_model(fitted_model, tmp_path / f"m.{model_format}")
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


@pytest.mark.parametrize("content, message", [
    (b"", "truncated or empty"),
    (b"random bytes, not a pickle", "not a readable fer-classic model"),
    (b"{", "UnpicklingError: invalid load key, '{'. Copy it again"),  # one full stop
    # A 2**40-byte value declared in 14 bytes: MemoryError had no message ("MemoryError: .").
    (b"\x80\x04\x8e" + (1 << 40).to_bytes(8, "little") + b"abc", "MemoryError: it declares a value larger than"),
])
def test_non_model_file_is_a_model_file_error(tmp_path, content, message):
    path = tmp_path / "m.joblib"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.99])
def test_truncated_model_file_is_reported_as_such(tmp_path, fitted_model, model_format, keep):
    path = save_model(fitted_model, tmp_path / f"m.{model_format}")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ModelIntegrityError, match="truncated"):
        load_model(path)


def test_corrupted_joblib_payload_fails_its_checksum(tmp_path, fitted_model):
    path = save_model(fitted_model, tmp_path / "m.joblib")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the payload bytes: the pickle still parses
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="corrupted"):
        load_model(path)


def test_corrupted_skops_member_is_reported(tmp_path, fitted_model):
    path = save_model(fitted_model, tmp_path / "m.skops")
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError):
        load_model(path)


def test_joblib_model_file_still_opens_with_joblib(tmp_path, fitted_model):
    path = save_model(fitted_model, tmp_path / "m.joblib")
    header = joblib.load(path)
    assert header["format"] == FORMAT and header["payload_sha256"] == hashlib.sha256(header["payload"]).hexdigest()


def test_skops_model_file_still_opens_with_skops(tmp_path, fitted_model, tiny_faces):
    import skops.io as sio

    path = save_model(fitted_model, tmp_path / "m.skops")
    pipeline = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    np.testing.assert_array_equal(pipeline.predict(tiny_faces.X), fitted_model.predict(tiny_faces.images))


@pytest.mark.parametrize("payload", [{"weights": [1, 2]}, {"weights": np.arange(3)}])
def test_other_joblib_payload_is_not_a_model(tmp_path, payload):
    path = tmp_path / "m.joblib"
    joblib.dump(payload, path)
    with pytest.raises(ModelFileError, match="not a fer-classic model"):
        load_model(path, trusted=True)


def test_other_pickle_needs_trust(tmp_path):
    path = tmp_path / "m.joblib"
    joblib.dump({"weights": np.arange(3)}, path)
    with pytest.raises(UntrustedModelError, match="trusted=True"):
        load_model(path)


class _RunsCodeOnLoad:
    """Unpickling calls a function (here: it would create a marker file)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("wrap", ["bare", "in_payload_dict"])
def test_pickle_that_runs_code_is_refused_by_default(tmp_path, wrap):
    marker = tmp_path / "pwned"
    evil = _RunsCodeOnLoad(marker)
    payload = evil if wrap == "bare" else {"format": FORMAT, "format_version": 1, "metadata": {}, "pipeline": evil}
    path = tmp_path / "m.joblib"
    path.write_bytes(pickle.dumps(payload))
    with pytest.raises(UntrustedModelError, match="runs any code"):
        load_model(path)
    assert not marker.exists()


def test_inspect_runs_no_code_from_a_pickle(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "m.joblib"
    path.write_bytes(pickle.dumps(_RunsCodeOnLoad(marker)))
    info = inspect_model(path)
    assert info["file_format"] == "joblib-unsigned" and not marker.exists()


def _save_with_other_key(tmp_path, model, monkeypatch):
    monkeypatch.setenv("FER_CLASSIC_HOME", str(tmp_path / "elsewhere"))
    path = save_model(model, tmp_path / "m.joblib")
    monkeypatch.undo()
    return path


def test_joblib_file_from_another_machine_needs_trust(tmp_path, fitted_model, monkeypatch):
    path = _save_with_other_key(tmp_path, fitted_model, monkeypatch)
    with pytest.raises(UntrustedModelError, match="not written by fer-classic on this machine"):
        load_model(path)


def test_joblib_file_from_another_machine_loads_when_trusted(tmp_path, fitted_model, tiny_faces, monkeypatch):
    path = _save_with_other_key(tmp_path, fitted_model, monkeypatch)
    loaded = load_model(path, trusted=True)
    np.testing.assert_array_equal(loaded.predict(tiny_faces.images), fitted_model.predict(tiny_faces.images))


def test_edited_metadata_breaks_the_signature(tmp_path, fitted_model):
    path = save_model(fitted_model, tmp_path / "m.joblib")
    header = joblib.load(path)
    header["metadata"]["classes"] = list(reversed(header["metadata"]["classes"]))
    path.write_bytes(pickle.dumps(header, protocol=4))
    with pytest.raises(UntrustedModelError):
        load_model(path)


def test_signing_key_is_private_to_the_user(tmp_path, fitted_model):
    save_model(fitted_model, tmp_path / "m.joblib")
    assert stat.S_IMODE(os.stat(key_path()).st_mode) == 0o600


@pytest.fixture
def fresh_home(tmp_path, monkeypatch):
    """A FER_CLASSIC_HOME of this test alone (its key file is made or damaged here)."""
    monkeypatch.setenv("FER_CLASSIC_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_signing_key_appears_whole(fresh_home, monkeypatch):
    # A second process saving at once read the key file between its creation and its write: saved unsigned.
    from fer_classic.persistence import _signing

    seen = []
    real = _signing.secrets.token_bytes
    monkeypatch.setattr(_signing.secrets, "token_bytes", lambda n: seen.append(key_path().exists()) or real(n))
    assert _signing.sign("abc", {}) and seen == [False]
    assert len(key_path().read_bytes()) == 32


def test_a_key_installed_by_another_process_meanwhile_is_used(fresh_home, monkeypatch):
    from fer_classic.persistence import _signing

    real_link = os.link

    def other_process_first(src, dst):
        fresh_home.mkdir(exist_ok=True)
        key_path().write_bytes(b"k" * 32)
        real_link(src, dst)

    monkeypatch.setattr(_signing.os, "link", other_process_first)
    assert _signing.sign("abc", {}) == _signing.hmac.new(b"k" * 32, _signing._message("abc", {}),
                                                         hashlib.sha256).hexdigest()


@pytest.mark.parametrize("content", [b"", b"short"])
def test_a_key_file_of_the_wrong_length_is_replaced_with_a_warning(fresh_home, fitted_model, content):
    fresh_home.mkdir()
    key_path().write_bytes(content)  # what a first save killed between creating and writing it left
    with pytest.warns(UserWarning, match=f"{re.escape(str(key_path()))} holds {len(content)} bytes.*replaced"):
        path = save_model(fitted_model, fresh_home.parent / "m.joblib")
    assert len(key_path().read_bytes()) == 32 and load_model(path).classes == fitted_model.classes


def test_without_a_key_the_save_warns_and_loading_says_the_file_is_unsigned(tmp_path, fitted_model, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("FER_CLASSIC_HOME", str(tmp_path / "file" / "home"))  # cannot be made, even by root
    with pytest.warns(UserWarning, match=f"{re.escape(str(key_path()))}.*saved unsigned.*trusted=True"):
        path = save_model(fitted_model, tmp_path / "m.joblib")
    with pytest.raises(UntrustedModelError, match="carries no signature") as error:
        load_model(path)
    assert "does not match" not in str(error.value)
    assert "unsigned: saved where no signing key" in format_model_info(inspect_model(path))


def test_inspect_escapes_control_characters_of_metadata_values(tmp_path, fitted_model, monkeypatch):
    fake = "hog\norigin         written by fer-classic for this user on this machine\x1b[2A"
    path = _save_with_other_key(tmp_path, FERModel(fitted_model.pipeline, {**fitted_model.metadata,
                                                                           "features": fake}), monkeypatch)
    lines = format_model_info(inspect_model(path)).splitlines()
    assert [line for line in lines if line.startswith("origin")] == ["origin         not signed here: from "
                                                                     "elsewhere or older"]
    assert "features       hog\\norigin         written by fer-classic for this user on this machine\\x1b[2A" in lines


def test_version_warning_escapes_control_characters(tmp_path, fitted_model):
    metadata = {**fitted_model.metadata, "versions": {"fer_classic": "0.1\x1b[2K\nsafe"}}
    path = save_model(FERModel(fitted_model.pipeline, metadata), tmp_path / "m.joblib")
    with pytest.warns(VersionMismatchWarning) as caught:
        load_model(path)
    assert "fer_classic 0.1\\x1b[2K\\nsafe (installed" in str(caught[0].message)


def _model_with_foreign_type(fitted_model, tiny_faces):
    pipeline = sk_make_pipeline(FunctionTransformer(operator.neg), DummyClassifier()).fit(tiny_faces.X, tiny_faces.y)
    return FERModel(pipeline=pipeline, metadata={**fitted_model.metadata, "classes": list(pipeline.classes_)})


def test_skops_file_with_foreign_type_is_refused_by_default(tmp_path, fitted_model, tiny_faces):
    path = save_model(_model_with_foreign_type(fitted_model, tiny_faces), tmp_path / "m.skops")
    with pytest.raises(UntrustedModelError, match="_operator.neg"):
        load_model(path)


def test_skops_file_with_foreign_type_loads_when_that_type_is_trusted(tmp_path, fitted_model, tiny_faces):
    path = save_model(_model_with_foreign_type(fitted_model, tiny_faces), tmp_path / "m.skops")
    assert load_model(path, trusted_types=["_operator.neg"]).predict(tiny_faces.images).shape == (len(tiny_faces),)


def test_skops_file_of_own_types_needs_no_trust(tmp_path, fitted_model):
    path = save_model(fitted_model, tmp_path / "m.skops")
    info = inspect_model(path)
    assert info["untrusted_types"] and info["types_needing_trust"] == []


def test_inspect_reads_metadata_and_origin(tmp_path, fitted_model, model_format):
    path = save_model(fitted_model, tmp_path / f"m.{model_format}")
    info = inspect_model(path)
    metadata = {k: v for k, v in info["metadata"].items() if k != "sizes"}  # sizes: added by save_model
    assert (metadata, info["integrity"], info["signed_here"], info["file_format"]) == (
        fitted_model.metadata, "ok", True, model_format)


def test_format_follows_the_suffix_unless_given(tmp_path, fitted_model):
    path = save_model(fitted_model, tmp_path / "m.bin", format="skops")
    assert inspect_model(path)["file_format"] == "skops"


@pytest.mark.parametrize("given, name", [("skops", "m.joblib"), ("joblib", "M.SKOPS")])
def test_a_format_the_suffix_contradicts_is_refused(tmp_path, fitted_model, given, name):
    # save_model's own argument names, not the command line's (--format, --out)
    with pytest.raises(ValueError, match=rf"format='{given}' writes a {given} file, but path .*{name} "
                                         rf"ends in \.{name.split('.')[-1]}: name it \.{given}"):
        save_model(fitted_model, tmp_path / name, format=given)
    assert not (tmp_path / name).exists()


def test_newer_format_version_is_incompatible(tmp_path, fitted_model):
    path = save_model(fitted_model, tmp_path / "m.joblib")
    header = joblib.load(path)
    path.write_bytes(pickle.dumps({**header, "format_version": FORMAT_VERSION + 1}, protocol=4))
    with pytest.raises(IncompatibleModelError, match="Upgrade fer-classic or refit"):
        load_model(path)


def test_a_format_version_of_true_is_not_version_1(tmp_path, fitted_model):
    path = save_model(fitted_model, tmp_path / "m.joblib")
    path.write_bytes(pickle.dumps({**joblib.load(path), "format_version": True}, protocol=4))
    with pytest.raises(IncompatibleModelError, match="model format version True"):
        load_model(path)


def test_one_string_of_trusted_types_is_one_name(tmp_path, fitted_model, tiny_faces):
    path = save_model(_model_with_foreign_type(fitted_model, tiny_faces), tmp_path / "m.skops")
    assert load_model(path, trusted_types="_operator.neg").predict(tiny_faces.images).shape == (len(tiny_faces),)


def test_a_misspelt_trusted_type_is_named_in_the_refusal(tmp_path, fitted_model, tiny_faces):
    path = save_model(_model_with_foreign_type(fitted_model, tiny_faces), tmp_path / "m.skops")
    with pytest.raises(UntrustedModelError, match=r"_operator\.neg.* It does not name _operator\.nge, which you "
                                                  r"trusted: check the spelling\."):
        load_model(path, trusted_types=["_operator.nge"])


def test_trusted_type_the_file_does_not_name_is_warned_at_the_caller(tmp_path, fitted_model):
    path = save_model(fitted_model, tmp_path / "m.skops")
    with pytest.warns(UserWarning, match=r"does not name _operator\.nge beyond skops' defaults") as caught:
        load_model(path, trusted_types=["_operator.nge"])
    assert caught[0].filename == __file__  # the caller's line, not the library's


def test_trusted_types_given_as_an_iterator_are_read_once(tmp_path, fitted_model, tiny_faces):
    # A generator of names was used up by the first name checked: the second was refused.
    pipeline = sk_make_pipeline(FunctionTransformer(operator.neg, inverse_func=operator.pos, check_inverse=False),
                                DummyClassifier()).fit(tiny_faces.X, tiny_faces.y)
    model = FERModel(pipeline=pipeline, metadata={**fitted_model.metadata, "classes": list(pipeline.classes_)})
    path = save_model(model, tmp_path / "m.skops")
    load_model(path, trusted_types=iter(["_operator.neg", "_operator.pos"]))


@pytest.mark.parametrize("load", [load_model, inspect_model])
def test_trusted_types_for_a_joblib_file_are_warned(tmp_path, fitted_model, load):
    path = save_model(fitted_model, tmp_path / "m.joblib")
    with pytest.warns(UserWarning, match=r"applies to \.skops files only; .*m\.joblib is a joblib file"):
        load(path, trusted_types=["_operator.neg"])


def test_trusted_types_the_file_needs_load_without_warning(tmp_path, fitted_model, tiny_faces):
    path = save_model(_model_with_foreign_type(fitted_model, tiny_faces), tmp_path / "m.skops")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_model(path, trusted_types=["_operator.neg"])


def test_save_to_a_folder_is_refused_before_pickling(tmp_path, fitted_model, monkeypatch):
    from fer_classic.exceptions import OutputPathError

    monkeypatch.setattr(_files, "encode_joblib", lambda *args, **kwargs: pytest.fail("pickled"))
    with pytest.raises(OutputPathError, match=f"path {re.escape(str(tmp_path))} is a folder; give the path of a file"):
        save_model(fitted_model, tmp_path)


@pytest.mark.parametrize("name", ["face.png", "clip.mp4", "scores.csv"])
def test_save_over_a_photo_video_or_table_is_refused(tmp_path, fitted_model, name):
    from fer_classic.exceptions import OutputPathError

    target = tmp_path / name
    target.write_bytes(b"user data")
    with pytest.raises(OutputPathError, match="this output is a model file"):
        save_model(fitted_model, target)
    assert target.read_bytes() == b"user data"


def test_version_1_file_loads_when_trusted(tmp_path, fitted_model, tiny_faces):
    path = tmp_path / "m.joblib"
    joblib.dump({"format": FORMAT, "format_version": 1, "metadata": fitted_model.metadata,
                 "pipeline": fitted_model.pipeline}, path, compress=3)
    loaded = load_model(path, trusted=True)
    np.testing.assert_array_equal(loaded.predict(tiny_faces.images), fitted_model.predict(tiny_faces.images))


def test_other_library_versions_warn(tmp_path, fitted_model, model_format):
    metadata = {**fitted_model.metadata, "versions": {**fitted_model.metadata["versions"], "scikit-learn": "0.1"}}
    path = save_model(FERModel(fitted_model.pipeline, metadata), tmp_path / f"m.{model_format}")
    with pytest.warns(VersionMismatchWarning, match="scikit-learn 0.1"):
        load_model(path)


def test_predict_rejects_wrong_geometry(fitted_model):
    with pytest.raises(ValueError, match="takes 48x48 grayscale images"):
        fitted_model.predict(np.zeros((2, 32, 32), np.uint8))


@pytest.mark.parametrize("shape", [(48, 48), (48 * 48,)])
def test_predict_of_one_image_says_to_give_a_batch_of_one(fitted_model, shape):
    """It said 'Load images with size=48' of an image that has that size."""
    with pytest.raises(ValueError, match=rf"got one image of shape \({shape[0]},.*give a batch of one "
                                         r"\(np\.asarray\(image\)\[None\]"):
        fitted_model.predict(np.zeros(shape, np.uint8))


def test_scores_without_probabilities_are_decision_values(fitted_model, tiny_faces):
    kind, scores = fitted_model.scores(tiny_faces.images[:3])
    assert kind == "decision" and scores.shape == (3, len(fitted_model.classes))


@pytest.fixture
def unchecked_save(monkeypatch):
    """save_model without its check of the model: files as another writer (or an editor) could leave them."""
    monkeypatch.setattr(_files, "model_problem", lambda model: None)


@pytest.mark.parametrize("metadata_edit, message", [
    (lambda m: {k: v for k, v in m.items() if k != "image_shape"}, "lacks the key 'image_shape'"),
    (lambda m: {**m, "image_shape": [48]}, "invalid \\[48\\] for the key 'image_shape'"),
    (lambda m: {**m, "image_shape": [48, "48"]}, "invalid .* for the key 'image_shape'"),
    (lambda m: {**m, "image_shape": [0, 48]}, "invalid .* for the key 'image_shape'"),
])
def test_metadata_without_what_predict_needs_fails_at_load(tmp_path, unchecked_save, fitted_model, model_format,
                                                           metadata_edit, message):
    path = save_model(FERModel(fitted_model.pipeline, metadata_edit(fitted_model.metadata)),
                      tmp_path / f"m.{model_format}")
    with pytest.raises(ModelFileError, match=f"{path}.*{message}"):
        load_model(path)


@pytest.mark.parametrize("metadata_edit, message", [
    (lambda m: {k: v for k, v in m.items() if k != "image_shape"}, "its metadata lacks the key 'image_shape'"),
    (lambda m: {**m, "image_shape": "48x48"}, "its metadata has an invalid '48x48' for the key 'image_shape'"),
    (lambda m: {**m, "image_shape": [24, 96]}, "its features were fitted on 48x48 images, but its metadata "
                                               "records 24x96"),
    (lambda m: {**m, "classes": [*m["classes"], "contempt"]}, "its metadata records the classes .*contempt"),
])
def test_save_refuses_what_load_would_refuse_or_misread(tmp_path, fitted_model, metadata_edit, message):
    with pytest.raises(ValueError, match=f"Cannot save .*m.joblib: {message}"):
        save_model(FERModel(fitted_model.pipeline, metadata_edit(fitted_model.metadata)), tmp_path / "m.joblib")
    assert not (tmp_path / "m.joblib").exists()


@pytest.mark.parametrize("model", [lambda m: m.pipeline, lambda m: FERModel(clone(m.pipeline), m.metadata)],
                         ids=["pipeline", "unfitted"])
def test_save_refuses_a_pipeline_or_an_unfitted_model(tmp_path, fitted_model, model):
    with pytest.raises((TypeError, ValueError),
                       match="save_model takes a FERModel for model.*got Pipeline. Wrap|not a fitted"):
        save_model(model(fitted_model), tmp_path / "m.joblib")


def test_save_with_the_arguments_swapped_says_so(tmp_path, fitted_model):
    with pytest.raises(TypeError, match=r"takes \(model, path\); the path came first"):
        save_model(tmp_path / "m.joblib", fitted_model)
    assert not (tmp_path / "m.joblib").exists()


def test_version_1_file_without_image_shape_fails_at_load(tmp_path, fitted_model):
    path = tmp_path / "m.joblib"
    joblib.dump({"format": FORMAT, "format_version": 1, "metadata": {"classes": fitted_model.classes},
                 "pipeline": fitted_model.pipeline}, path)
    with pytest.raises(ModelFileError, match="its metadata lacks the key 'image_shape'"):
        load_model(path, trusted=True)


def test_inspect_lists_missing_metadata_without_refusing(tmp_path, unchecked_save, fitted_model, model_format):
    metadata = {k: v for k, v in fitted_model.metadata.items() if k != "image_shape"}
    path = save_model(FERModel(fitted_model.pipeline, metadata), tmp_path / f"m.{model_format}")
    assert inspect_model(path)["missing_metadata"] == ["image_shape"]


MALFORMED_METADATA = [
    ({"training": "x"}, "'training' is str 'x', not a mapping"),
    ({"metrics": [1, 2]}, "'metrics' is list \\[1, 2\\], not a mapping"),
    ({"timings": [1]}, "'timings' is list"),
    ({"versions": [1]}, "'versions' is list"),
    ({"search": "grid"}, "'search' is str"),
    ({"hold_out": 0.2}, "'hold_out' is float"),
    ({"features": 3}, "'features' is int 3, not a string"),
    ({"classes": list(range(7))}, "'classes' is list .*, not a list of class names"),
    ({"face_cropper": {"detector": "nonsense"}},
     "'face_cropper' holds parameters FaceCropper refuses .*The 'detector' parameter of FaceCropper"),
    ({"face_cropper": {"output_shape": [24, 24]}}, "'face_cropper' makes 24x24 face crops, but the model takes 48x48"),
]


@pytest.mark.parametrize("edit, message", MALFORMED_METADATA)
def test_metadata_of_another_type_is_refused_at_load(tmp_path, unchecked_save, fitted_model, model_format, edit,
                                                     message):
    path = save_model(FERModel(fitted_model.pipeline, {**fitted_model.metadata, **edit}),
                      tmp_path / f"m.{model_format}")
    with pytest.raises(ModelIntegrityError, match=f"its metadata's {message}"):
        load_model(path)


def test_classes_recorded_in_another_order_are_refused_at_load(tmp_path, unchecked_save, fitted_model):
    edited = {**fitted_model.metadata, "classes": fitted_model.metadata["classes"][::-1]}
    path = save_model(FERModel(fitted_model.pipeline, edited), tmp_path / "m.joblib")
    with pytest.raises(ModelIntegrityError,
                       match="records the classes surprise, sad, neutral.*but its model predicts angry"):
        load_model(path)


def test_the_file_records_the_classes_in_the_classifiers_sorted_order(tmp_path, fitted_model):
    """The order an earlier fer-classic checks a file's classifier against (it refused canonical ones as edited)."""
    path = save_model(fitted_model, tmp_path / "m.joblib")
    assert inspect_model(path)["metadata"]["classes"] == sorted(fitted_model.classes)


def test_inspect_shows_the_recorded_classes_in_the_canonical_order(tmp_path, fitted_model):
    path = save_model(fitted_model, tmp_path / "m.joblib")
    line = next(x for x in format_model_info(inspect_model(path)).splitlines() if x.startswith("classes"))
    assert line.split(None, 1)[1] == "angry, disgust, fear, happy, sad, surprise, neutral"


@pytest.mark.parametrize("edit, message", MALFORMED_METADATA)
def test_inspect_shows_metadata_of_another_type(tmp_path, unchecked_save, fitted_model, model_format, edit, message):
    path = save_model(FERModel(fitted_model.pipeline, {**fitted_model.metadata, **edit}),
                      tmp_path / f"m.{model_format}")
    text = format_model_info(inspect_model(path))
    assert re.search(f"malformed +{message}.*loading refuses the file", text)


def _not_a_regular_file(tmp_path, kind):
    import socket

    if kind == "fifo":
        os.mkfifo(tmp_path / "m.skops")
        return tmp_path / "m.skops"
    if kind == "device":
        return "/dev/null"
    if kind == "folder":
        (tmp_path / "m.joblib").mkdir()
        return tmp_path / "m.joblib"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "m.sock"))
    server.close()
    return tmp_path / "m.sock"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX special files")
@pytest.mark.parametrize("read", [load_model, inspect_model])
@pytest.mark.parametrize("kind, message", [
    ("fifo", "is not a regular file \\(it is a FIFO"),
    ("device", "is not a regular file \\(it is a character device"),
    ("socket", "is not a regular file \\(it is a socket"),
    ("folder", "is a folder, not a file"),
])
def test_model_inputs_that_are_not_regular_files_are_refused_unopened(tmp_path, read, kind, message):
    import signal

    signal.alarm(5)  # a FIFO that was opened would block here
    try:
        with pytest.raises(ModelFileError, match=f"^Model file .*{message}"):
            read(_not_a_regular_file(tmp_path, kind))
    finally:
        signal.alarm(0)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX special files")
@pytest.mark.parametrize("command", ["inspect", "predict"])
def test_cli_names_a_model_that_is_not_a_regular_file(tmp_path, command):
    import signal

    from click.testing import CliRunner

    from fer_classic.cli import main

    fifo = tmp_path / "m.skops"
    os.mkfifo(fifo)
    image = tmp_path / "face.png"
    image.write_bytes(b"")
    signal.alarm(5)
    try:
        for model in ("/dev/null", str(fifo)):
            result = CliRunner().invoke(main, [command, model, *([str(image)] if command == "predict" else [])])
            assert result.exit_code != 0 and "is not a regular file" in result.output, result.output
    finally:
        signal.alarm(0)


def _local_svc():
    from fer_classic.estimators import LocalSVC

    X, y = np.random.default_rng(0).random((40, 5)), np.repeat([0, 1], 20)
    return LocalSVC(k=10, mode="refine").fit(X, y)  # keeps its training kernel as a cache


def _exact_svm():
    from fer_classic.estimators import PrecomputedKernelSVC

    X, y = np.random.default_rng(0).random((40, 5)), np.repeat([0, 1], 20)
    model = PrecomputedKernelSVC().fit(X, y)
    model.predict(X)  # caches the centred support vectors
    return model


def _cropper():
    from fer_classic.detection import FaceCropper

    cropper = FaceCropper()
    cropper._face_detector()  # the detector is loaded on first use
    return cropper


@pytest.mark.parametrize("make", [_local_svc, _exact_svm, _cropper])
def test_pickling_leaves_the_object_s_caches_in_place(make):
    obj = make()
    before = dict(vars(obj))
    pickle.dumps(obj)
    assert vars(obj).keys() == before.keys() and all(vars(obj)[k] is v for k, v in before.items())


def _shared_levels(depth):
    """One list named twice at every level: a few hundred pickled bytes, 2**depth values written out."""
    item = [0]
    for _ in range(depth):
        item = [item, item]
    return item


def _nested(depth):
    item = []
    for _ in range(depth):
        item = [item]
    return item


@pytest.mark.parametrize("extra", [_shared_levels(40), _nested(40), {"key": _nested(40)}],
                         ids=["shared-levels", "nested", "nested-in-dict"])
def test_joblib_metadata_beyond_a_models_size_is_refused_before_it_is_serialised(tmp_path, fitted_model, extra):
    path = save_model(fitted_model, tmp_path / "m.joblib")
    header = joblib.load(path)
    header["metadata"]["extra"] = extra
    path.write_bytes(pickle.dumps(header, protocol=4))
    assert path.stat().st_size < 2_000_000
    with pytest.raises(ModelIntegrityError, match="not plain JSON data of a model's size"):
        load_model(path)  # 2**40 values: only a bounded walk returns


def test_skops_member_inflating_like_a_zip_bomb_is_refused_unread(tmp_path, fitted_model, monkeypatch):
    from fer_classic.persistence import _skops_format

    monkeypatch.setattr(_skops_format, "_INFLATED_FROM", 1 << 20)  # a real bomb's gigabytes, scaled down
    path = save_model(fitted_model, tmp_path / "m.skops")
    reseal_skops(path, lambda members, header: members.update({"zeros.bin": bytes(4 << 20)}))
    monkeypatch.setattr(zipfile.ZipFile, "read", lambda *a, **k: pytest.fail("a member was read"))
    with pytest.raises(ModelIntegrityError, match=r"'zeros.bin' inflates [\d,]+ bytes to 4,194,304"):
        load_model(path)


def test_skops_header_member_beyond_a_models_size_is_refused_unread(tmp_path, fitted_model, monkeypatch):
    from fer_classic.persistence import _skops_format

    path = save_model(fitted_model, tmp_path / "m.skops")
    monkeypatch.setattr(_skops_format, "_MAX_HEADER_BYTES", 1000)
    monkeypatch.setattr(zipfile.ZipFile, "read", lambda *a, **k: pytest.fail("a member was read"))
    with pytest.raises(ModelIntegrityError, match="'fer_classic_header.json' inflates"):
        load_model(path)


def test_a_zip_that_is_no_model_is_named_so_whatever_it_holds(tmp_path, monkeypatch):
    from fer_classic.persistence import _skops_format

    monkeypatch.setattr(_skops_format, "_INFLATED_FROM", 1 << 20)
    path = tmp_path / "photos.skops"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("blank.bmp", bytes(4 << 20))  # would pass for a zip bomb
    with pytest.raises(ModelFileError, match="is a zip/skops file but not a fer-classic model"):
        load_model(path)


def test_a_skops_file_inflating_past_the_memory_available_is_not_loaded(tmp_path, fitted_model, monkeypatch):
    path = save_model(fitted_model, tmp_path / "m.skops")
    monkeypatch.setattr("fer_classic._resources.available_memory", lambda: 1000)
    assert inspect_model(path)["integrity"] == "ok"  # inspecting inflates nothing whole
    with pytest.raises(ModelFileError, match=r"GiB of memory available now; it is not loaded"):
        load_model(path)


def _unable_to_predict(fitted_model) -> FERModel:
    import copy

    pipeline = copy.deepcopy(fitted_model.pipeline)
    scaler = pipeline.named_steps["scale"]
    scaler.mean_, scaler.scale_, scaler.n_features_in_ = scaler.mean_[:10], scaler.scale_[:10], 10
    return FERModel(pipeline, fitted_model.metadata)


def test_a_skops_model_whose_fitted_state_cannot_predict_is_refused_at_load(tmp_path, fitted_model):
    path = save_model(_unable_to_predict(fitted_model), tmp_path / "m.skops")
    with pytest.raises(ModelIntegrityError, match=f"{re.escape(str(path))}: it fails to predict one 48x48 image "
                                                  "\\(ValueError: X has .* features, but StandardScaler"):
        load_model(path)


def test_a_joblib_model_signed_here_is_not_predicted_at_load(tmp_path, fitted_model):
    # It loads only signed here or trusted; a check at load refused models valid when saved after an upgrade.
    path = save_model(_unable_to_predict(fitted_model), tmp_path / "m.joblib")
    assert load_model(path).pipeline.named_steps["scale"].n_features_in_ == 10


@pytest.mark.parametrize("save", ["joblib", "skops"])
def test_a_file_holding_no_fitted_classifier_is_refused_at_load(tmp_path, fitted_model, save):
    from fer_classic.persistence._joblib_format import save_joblib
    from fer_classic.persistence._skops_format import save_skops

    path = {"joblib": save_joblib, "skops": save_skops}[save]({"a": 1}, fitted_model.metadata, tmp_path / f"m.{save}")
    with pytest.raises(ModelFileError, match=f"{path}: it holds a dict, not a fitted classifier"):
        load_model(path)


@pytest.mark.parametrize("edit, message", [
    ({"image_shape": [40, 40]}, "its model takes 2304 pixel values per image, but its metadata records 40x40"),
    ({"classes": ["x", "y"]}, "its metadata records the classes x, y, but its model predicts angry"),
    ({"face_cropper": "hello"}, "'face_cropper' is str 'hello', not a mapping"),
])
def test_metadata_disagreeing_with_the_model_is_refused_at_load(tmp_path, unchecked_save, fitted_model, model_format,
                                                                edit, message):
    edited = FERModel(fitted_model.pipeline, {**fitted_model.metadata, **edit})
    path = save_model(edited, tmp_path / f"m.{model_format}")
    with pytest.raises(ModelIntegrityError, match=message):
        load_model(path)


def _fitted_vgg_model(tiny_faces):
    """A tiny fitted vgg16 + logreg FERModel (random weights, first block only) and its training split."""
    pytest.importorskip("tensorflow", reason="deep features need tensorflow: pip install 'fer-classic[deep]'")
    from fer_classic import make_pipeline

    train = tiny_faces.select("train")
    pipeline = make_pipeline("vgg16", "logreg").set_params(features__weights=None, features__layer="block1_pool")
    return FERModel.from_fitted(pipeline.fit(train.X, train.y), train, features="vgg16", clf="logreg", source="t")


@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept:DeprecationWarning")  # Keras' noise
def test_loading_a_keras_model_does_not_rebuild_its_network(tmp_path, tiny_faces):
    # The rebuild at load imported TensorFlow and built the network for callers that never predict (+6 s).
    loaded = load_model(save_model(_fitted_vgg_model(tiny_faces), tmp_path / "m.joblib"))
    assert "model_" not in vars(loaded.pipeline.named_steps["features"])


@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept:DeprecationWarning")  # Keras' noise
def test_network_weights_that_do_not_fit_are_named_with_the_file_at_first_use(tmp_path, tiny_faces):
    """Keras' bare 'weight shape ... is not compatible' came at predict time, naming no file and no remedy."""
    import copy

    damaged = copy.deepcopy(_fitted_vgg_model(tiny_faces))  # the network as the file holds it: weights to rebuild
    weights = vars(damaged.pipeline.named_steps["features"])["_keras_weights"]
    weights[0] = weights[0][..., :5]  # a first convolution of 5 filters, not 64
    path = save_model(damaged, tmp_path / "m.joblib")
    loaded = load_model(path)
    message = (rf"^{re.escape(str(path))}: DeepFeatures: the saved network weights do not fit the network of its "
               r"fitted architecture \(ValueError: .*refit the model")
    with pytest.raises(ModelIntegrityError, match=message):
        loaded.pipeline.predict(tiny_faces.select("test").X[:1])


@pytest.mark.parametrize("cropper, shown", [
    ({"detect": False, "margin": 0.0, "align": False}, "cropper        --crop none: every image resized whole"),
    ({"detect": "auto", "margin": 0.1, "align": True, "detector": "haar"},
     "cropper        --crop auto (margin 0.1, align, detector haar)"),
])
def test_inspect_text_shows_the_face_cropper_the_model_records(tmp_path, fitted_model, cropper, shown):
    info = inspect_model(save_model(fitted_model, tmp_path / "m.joblib"))
    info["metadata"]["face_cropper"] = cropper  # as fit --crop records it: predict cuts photos with it
    assert shown in format_model_info(info).splitlines()


def test_inspect_text_says_a_model_s_metrics_are_of_a_deduplicated_test(tmp_path, fitted_model):
    info = inspect_model(save_model(fitted_model, tmp_path / "m.joblib"))
    assert not any(line.startswith("dedupe") for line in format_model_info(info).splitlines())
    info["metadata"]["dedupe"] = True  # as fit --dedupe records it
    assert any(line.startswith("dedupe         yes: ") for line in format_model_info(info).splitlines())
