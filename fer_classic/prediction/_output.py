"""Prediction rows as CSV (timelines included) and as a text table."""

from __future__ import annotations

import io
from typing import TextIO

from .._display import one_line
from .._fileio import csv_writer

__all__ = ["csv_columns", "format_rows_table", "rows_csv", "write_rows_csv"]

_TAIL = ["error", "status", "frame", "time_s", "face", "track", "smoothed_label", "how",
         "x", "y", "width", "height"]


def csv_columns(classes: list[str]) -> list[str]:
    """Columns of :func:`write_rows_csv`: source, label, score kind, one per class, then the rest.

    Parameters
    ----------
    classes : list of str
        The model's classes.

    Returns
    -------
    list of str
        The column names.
    """
    return ["source", "label", "score_kind", *classes, *_TAIL]


def write_rows_csv(rows: list[dict], classes: list[str], handle: TextIO) -> None:
    """Write prediction rows (images, video timelines, errors) as CSV, one line per face or item.

    Columns: ``source, label, score_kind``, one score column per class, then
    ``error, status`` (``ok``, ``no face`` or ``error``), ``frame, time_s``
    (video), ``face`` (index in its image or frame), ``track,
    smoothed_label`` (video), ``how`` (``found``, ``crop`` or ``whole
    image``), and the box ``x, y, width, height``. A source name that is not
    valid UTF-8 is written with its undecodable bytes as ``\\xNN``
    (:func:`fer_classic._fileio.csv_writer`), so the CSV is valid UTF-8.

    Parameters
    ----------
    rows : list of dict
        Prediction rows, as :func:`fer_classic.predict_paths` gives them.
    classes : list of str
        The model's classes: one score column each.
    handle : file object
        Text file open for writing (``newline=""``).
    """
    writer = csv_writer(handle)
    writer.writerow(csv_columns(classes))
    for row in rows:
        scores = row.get("scores", {})
        box = row.get("box") or ["", "", "", ""]
        writer.writerow([
            row["source"], row.get("label", ""), row.get("score_kind", ""), *(scores.get(c, "") for c in classes),
            *("" if row.get(k) is None else row[k] for k in _TAIL[:-4]), *box,
        ])


def rows_csv(rows: list[dict], classes: list[str]) -> str:
    """The text :func:`write_rows_csv` writes.

    Parameters
    ----------
    rows : list of dict
        Prediction rows, as :func:`fer_classic.predict_paths` gives them.
    classes : list of str
        The model's classes: one score column each.

    Returns
    -------
    str
        The CSV text, header first.
    """
    buffer = io.StringIO(newline="")
    write_rows_csv(rows, classes, buffer)
    return buffer.getvalue()


def _where(row: dict) -> str:
    if "frame" not in row:
        # A face taken whole (nothing was found) is a guess: say so.
        return one_line(row["source"]) + (" (whole image)" if row.get("how") == "whole image" else "")
    track = f" track {row['track']} ({row['smoothed_label']})" if "track" in row else ""
    return f"{one_line(row['source'])} frame {row['frame']}{track}"


def format_rows_table(rows: list[dict], classes: list[str], tracks: list[dict] | None = None) -> str:
    """A text table: label, one score column per class, box and source per face; then the face tracks.

    Parameters
    ----------
    rows : list of dict
        Prediction rows, as :func:`fer_classic.predict_paths` gives them.
    classes : list of str
        The model's classes: one score column each.
    tracks : list of dict, optional
        Face tracks of videos, listed after the rows.

    Returns
    -------
    str
        The table.
    """
    kind = next((r["score_kind"] for r in rows if "score_kind" in r), "score")  # no face scored: no kind to name
    lines = [f"{'label':<10}" + "".join(f"{c[:8]:>9}" for c in classes)
             + f"  {'box (x,y,w,h)':<19}source   ({kind} per class)"]
    for row in rows:
        if row["status"] == "error":
            lines.append(f"{'ERROR':<10}{row['error']}")
        elif row["status"] == "ok":
            box = ",".join(map(str, row["box"]))
            # At least one space: a phone photo's 4-digit box (2731,1025,1531,1531) ran into the source.
            lines.append(f"{row['label']:<10}" + "".join(f"{row['scores'][c]:>9.3f}" for c in classes)
                         + f"  {box:<18} {_where(row)}")
        else:
            lines.append(f"{row['status']:<10}" + " " * (9 * len(classes) + 21) + _where(row))
    for track in tracks or []:
        lines.append(f"track {track['track']} of {one_line(track['source'])}: frames {track['first_frame']}-"
                     f"{track['last_frame']} ({track['n_frames']} analysed), label {track['label']}")
    return "\n".join(lines)
