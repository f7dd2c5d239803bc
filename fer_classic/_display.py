"""How names taken from the user's files, and sizes, are shown in text output (tables, lists, messages)."""

from __future__ import annotations


def one_line(text: str) -> str:
    """``text`` with its unprintable characters written as escapes (``\\n``, ``\\x1b``).

    A file name may hold a newline (which split a table row in two), a
    terminal escape sequence (which a terminal would obey) or, read from a
    non-UTF-8 name, a byte that is no character (shown as ``\\xff``, as the
    HTML report, the CSVs and the JSON outputs write it: :func:`valid_text`);
    CSV and JSON outputs keep names otherwise exact, text tables show them this way.

    Examples
    --------
    >>> one_line("new\\nline.png")
    'new\\\\nline.png'
    >>> one_line("café.png")
    'café.png'
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def valid_text(text: str) -> str:
    """``text`` as valid Unicode to write: only surrogates escaped (a non-UTF-8 name's bytes as ``\\xff``).

    For outputs that keep line breaks: the HTML report, every CSV
    (:func:`fer_classic._fileio.csv_writer`) and every JSON output
    (:func:`fer_classic._json.output_json`), so that each is valid UTF-8 and
    names such a file the same way; a valid name is kept exactly.
    :func:`one_line` escapes line breaks too. (A name holding the four
    characters ``\\xff`` itself reads the same: the escape is for people and
    strict decoders, not for finding the file again.)

    Examples
    --------
    >>> valid_text(b"bad\\xff.png".decode("utf-8", "surrogateescape"))
    'bad\\\\xff.png'
    """
    return "".join(_escape(c) if "\ud800" <= c <= "\udfff" else c for c in text)


def megabytes(n_bytes) -> str:
    """A size in bytes as text: MB from 0.1 MB up, kB below (anything not a number as ``str`` gives it).

    Examples
    --------
    >>> megabytes(5_800_000), megabytes(61_440)
    ('5.8 MB', '61.4 kB')
    """
    if isinstance(n_bytes, bool) or not isinstance(n_bytes, (int, float)):
        return str(n_bytes)
    return f"{n_bytes / 1e6:.1f} MB" if n_bytes >= 1e5 else f"{n_bytes / 1e3:.1f} kB"


def _escape(char: str) -> str:
    if "\udc80" <= char <= "\udcff":  # a byte of a non-UTF-8 name, as os.fsdecode gives it
        return f"\\x{ord(char) - 0xDC00:02x}"
    return char.encode("unicode_escape").decode("ascii")
