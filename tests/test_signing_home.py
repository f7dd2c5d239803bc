"""Where the model-signing key is made: its own folders, never a missing home folder above them."""

from __future__ import annotations

import pytest

from fer_classic.persistence import key_path
from fer_classic.persistence._signing import sign


@pytest.fixture
def home_env(monkeypatch):
    """Set HOME (and XDG_CONFIG_HOME, if given) with no FER_CLASSIC_HOME: the key goes where they say."""
    monkeypatch.delenv("FER_CLASSIC_HOME", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)

    def set_home(home, xdg=None):
        monkeypatch.setenv("HOME", str(home))
        if xdg is not None:
            monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))

    return set_home


def test_a_missing_home_is_not_made_and_the_model_is_saved_unsigned(tmp_path, home_env):
    home_env(tmp_path / "nonexistent" / "x")
    with pytest.warns(UserWarning, match=r"model-signing key .*nonexistent/x/\.config/fer-classic/model-signing\.key "
                                         r"\(FileNotFoundError: the folder .*nonexistent/x does not exist, and "
                                         r"fer-classic makes no home folder\): the model is saved unsigned"):
        assert sign("abc", {}) == ""
    assert list(tmp_path.iterdir()) == []


def test_an_empty_home_is_no_home_and_the_model_is_saved_unsigned(tmp_path, home_env, monkeypatch):
    # HOME="": Path.home() is "/", which exists, and the key folder was made at /.config/fer-classic.
    from fer_classic.persistence import _signing

    made = []
    monkeypatch.setattr(_signing.Path, "mkdir", lambda self, *a, **k: made.append(self))  # never at / for real
    home_env("")
    with pytest.warns(UserWarning, match=r"\(FileNotFoundError: HOME is empty \(no home folder\).*saved unsigned"):
        assert sign("abc", {}) == ""
    assert made == []


def test_an_existing_home_gets_its_config_folders_and_a_key(tmp_path, home_env):
    home_env(tmp_path)
    assert sign("abc", {})
    assert key_path() == tmp_path / ".config" / "fer-classic" / "model-signing.key" and key_path().is_file()


def test_a_missing_xdg_config_home_is_made_where_the_folder_above_it_exists(tmp_path, home_env):
    home_env(tmp_path / "no-home", xdg=tmp_path / "xdg")
    assert sign("abc", {}) and (tmp_path / "xdg" / "fer-classic" / "model-signing.key").is_file()
    assert not (tmp_path / "no-home").exists()


def test_an_xdg_config_home_under_a_missing_folder_is_not_made(tmp_path, home_env):
    home_env(tmp_path, xdg=tmp_path / "gone" / "xdg")
    with pytest.warns(UserWarning, match=r"the folder .*gone does not exist.*saved unsigned"):
        assert sign("abc", {}) == ""
    assert not (tmp_path / "gone").exists()


def test_fer_classic_home_is_made_whole_as_named(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_CLASSIC_HOME", str(tmp_path / "a" / "b"))
    monkeypatch.setenv("HOME", str(tmp_path / "nonexistent"))
    assert sign("abc", {}) and (tmp_path / "a" / "b" / "model-signing.key").is_file()
