"""benchmarks/bench_photos.py: its results never replace the model or a photo."""

import pytest

from conftest import benchmark_module


@pytest.mark.parametrize("out", ["model", "photo"])
def test_an_output_onto_an_input_is_refused_before_any_work(tmp_path, folder_dataset, monkeypatch, out):
    bench = benchmark_module("bench_photos")
    model = tmp_path / "m.joblib"
    model.write_bytes(b"a model")
    target = model if out == "model" else next((folder_dataset / "test" / "happy").iterdir())
    monkeypatch.setattr(bench, "load_model", lambda *a, **k: pytest.fail("model loaded"))
    with pytest.raises(SystemExit, match="--out .* (is an input of this command|is inside the dataset folder)"):
        bench.main([str(model), str(folder_dataset / "test"), "--out", str(target)])
    assert model.read_bytes() == b"a model"


def test_an_output_onto_a_photo_a_csv_lists_is_refused_before_any_work(tmp_path, folder_dataset, monkeypatch):
    """Only the CSV itself was protected: a photo it lists elsewhere was replaced by the results."""
    bench = benchmark_module("bench_photos")
    photo = next((folder_dataset / "test" / "happy").iterdir())
    listing = tmp_path / "photos.csv"
    listing.write_text(f"path,label\n{photo},happy\n")
    before = photo.read_bytes()
    monkeypatch.setattr(bench, "load_model", lambda *a, **k: pytest.fail("model loaded"))
    with pytest.raises(SystemExit, match="--out .* is an input of this command"):
        bench.main([str(tmp_path / "m.joblib"), str(listing), "--out", str(photo)])
    assert photo.read_bytes() == before
