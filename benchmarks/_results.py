"""A benchmark's results file: checked before any work, written whole.

Shared by the scripts in this folder (each puts the folder on ``sys.path``).
"""

from __future__ import annotations

import json
import os

from fer_classic._fileio import atomic_write_text, check_outputs
from fer_classic.exceptions import FerClassicError

__all__ = ["check_results", "write_json"]


def check_results(outputs: dict[str, str | os.PathLike | None], **checks) -> None:
    """:func:`fer_classic._fileio.check_outputs` before any work, a refusal as the script's one-line exit.

    ``outputs`` maps options (``--out``) to paths; ``checks`` are check_outputs'
    ``inputs``, ``input_trees`` (``{"--data": dataset_inputs(args.data)}``) and
    ``dirs``. A folder, an unwritable place, or a path among the inputs (an image
    of the dataset, its CSV) is refused, so the results never replace user data.
    """
    try:
        check_outputs(outputs, make_parents=True, **checks)
    except FerClassicError as exc:
        raise SystemExit(str(exc)) from None


def write_json(path: str | os.PathLike, payload) -> None:
    """``payload`` as indented JSON at ``path``, replaced whole (a stopped run never leaves half a file)."""
    atomic_write_text(path, json.dumps(payload, indent=1) + "\n")
