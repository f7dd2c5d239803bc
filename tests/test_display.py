"""How names from the user's files are shown in text output."""

import pytest

from fer_classic._display import one_line, valid_text


@pytest.mark.parametrize("text, shown", [
    ("face.png", "face.png"),
    ("café 😀.png", "café 😀.png"),
    ("new\nline.png", "new\\nline.png"),
    ("tab\there.png", "tab\\there.png"),
    ("esc\x1b[31m.png", "esc\\x1b[31m.png"),
    ("bad\udcff.png", "bad\\xff.png"),  # a non-UTF-8 name's byte, as os.fsdecode gives it
])
def test_one_line_escapes_only_what_is_unprintable(text, shown):
    assert one_line(text) == shown


@pytest.mark.parametrize("text, shown", [
    ("new\nline", "new\nline"),  # kept: for outputs whose line breaks are harmless (HTML)
    ("bad\udcff.png", "bad\\xff.png"),
    ("lone\ud800", "lone\\ud800"),  # a surrogate no file name makes
])
def test_valid_text_escapes_only_surrogates(text, shown):
    assert valid_text(text) == shown and valid_text(text).encode("utf-8")
