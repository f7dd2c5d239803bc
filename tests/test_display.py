"""How names from the user's files are shown in text output."""

import pytest

from fer_classic._display import one_line


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
