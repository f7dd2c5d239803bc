"""Following faces across video frames by box overlap, with a smoothed expression per track."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ._boxes import iou

__all__ = ["FaceTracker", "Track"]


@dataclass
class Track:
    """One face followed across frames.

    Attributes
    ----------
    id : int
        Track number, from 1 in order of appearance.
    box : (int, int, int, int)
        Last ``(x, y, w, h)`` box.
    first_frame : int
        Frame it was first seen in.
    last_frame : int
        Frame it was last seen in.
    recent : deque
        Score rows of its last ``window`` updates.
    total : ndarray of shape (n_classes,)
        Sum of all its score rows.
    n_frames : int, default=1
        Updates it was seen in.
    missed : int, default=0
        Successive updates it has gone unmatched.
    """

    id: int
    box: tuple[int, int, int, int]
    first_frame: int
    last_frame: int
    recent: deque
    total: np.ndarray
    n_frames: int = 1
    missed: int = 0

    def smoothed(self) -> np.ndarray:
        """Mean scores over the recent window.

        Returns
        -------
        ndarray of shape (n_classes,)
            Mean of :attr:`recent`; its arg-max is the smoothed label.
        """
        return np.mean(self.recent, axis=0)


class FaceTracker:
    """Greedy IoU tracker: each face joins the track whose last box it overlaps most.

    Boxes of a frame are matched to the tracks still alive, pairs of highest
    intersection over union first; a box overlapping no track by
    ``iou_threshold`` starts a new track, and a track unmatched in more than
    ``max_missed`` successive updates ends. Each track keeps the per-class
    scores of its last ``window`` updates: their mean is the smoothed score,
    its arg-max the smoothed label. A track is confirmed once seen in
    ``min_frames`` updates (or in every update, when there were fewer):
    shorter ones are mostly detector false positives, which come and go
    (the confirmation rule of SORT, Bewley et al. 2016). An update examines
    only the tracks that have not ended, so its cost does not grow with the
    length of a video.

    Parameters
    ----------
    iou_threshold : float, default=0.3
        Smallest overlap of a box with a track's last box to continue it.
    max_missed : int, default=5
        Updates a track may go unmatched before it ends.
    window : int, default=5
        Updates averaged for the smoothed score.
    min_frames : int, default=3
        Updates a track must be seen in to be confirmed (1 confirms every track).
    """

    def __init__(self, *, iou_threshold: float = 0.3, max_missed: int = 5, window: int = 5, min_frames: int = 3):
        self.iou_threshold = iou_threshold
        self.max_missed = max_missed
        self.window = window
        self.min_frames = min_frames
        self._tracks: list[Track] = []  # every track, in order of creation: confirmed() and summary() read all
        # The tracks that can still match, in order of creation (the tie order of equal overlaps): each update
        # scans these only, not every track of a long video.
        self._live: list[Track] = []
        self._live_max_missed: int | None = None  # the max_missed that _live was sorted out by
        self._updates = 0

    def update(self, frame: int, boxes: list, scores: np.ndarray) -> list[Track]:
        """Add a frame's face boxes (``(x, y, w, h)``) and their score rows; the track of each box, in order.

        Parameters
        ----------
        frame : int
            Frame number.
        boxes : list of (x, y, w, h)
            The frame's face boxes.
        scores : array-like of shape (len(boxes), n_classes)
            Per-class scores of each box's face.

        Returns
        -------
        list of Track
            The track of each box, in the order of ``boxes``.

        Raises
        ------
        ValueError
            If a tracker parameter is out of range.
        """
        if not 0 < self.iou_threshold <= 1 or self.max_missed < 0 or self.window < 1 or self.min_frames < 1:
            raise ValueError(
                "FaceTracker needs 0 < iou_threshold <= 1, max_missed >= 0, window >= 1 and min_frames >= 1; got "
                f"{self.iou_threshold!r}, {self.max_missed!r}, {self.window!r}, {self.min_frames!r}."
            )
        self._updates += 1
        if self._live_max_missed != self.max_missed:
            # max_missed set between updates: sort every track out again by the new value.
            self._live = [t for t in self._tracks if t.missed <= self.max_missed]
            self._live_max_missed = self.max_missed
        alive = self._live
        pairs = sorted(
            ((iou(t.box, box), ti, bi) for ti, t in enumerate(alive) for bi, box in enumerate(boxes)),
            reverse=True,
        )
        owner: dict[int, Track] = {}
        taken: set[int] = set()
        for overlap, ti, bi in pairs:
            if overlap < self.iou_threshold:
                break
            if ti not in taken and bi not in owner:
                owner[bi] = alive[ti]
                taken.add(ti)
        for ti, track in enumerate(alive):
            if ti not in taken:
                track.missed += 1
        # A track unmatched more than max_missed times has ended for good (only a match resets missed).
        self._live = [t for t in alive if t.missed <= self.max_missed]
        result = []
        for bi, box in enumerate(boxes):
            row = np.asarray(scores[bi], dtype=float)
            track = owner.get(bi)
            if track is None:
                track = Track(len(self._tracks) + 1, tuple(box), frame, frame, deque(maxlen=self.window),
                              np.zeros_like(row), n_frames=0)
                self._tracks.append(track)
                self._live.append(track)  # after every older one, as in self._tracks
            track.box, track.last_frame, track.missed = tuple(box), frame, 0
            track.recent.append(row)
            track.total = track.total + row
            track.n_frames += 1
            result.append(track)
        return result

    def confirmed(self) -> set[int]:
        """Ids of the confirmed tracks (see ``min_frames``).

        Returns
        -------
        set of int
            Track ids.
        """
        needed = min(self.min_frames, self._updates)
        return {t.id for t in self._tracks if t.n_frames >= needed}

    def summary(self, classes: list[str]) -> list[dict]:
        """Per confirmed track: id, first and last frame, frames seen, and the label of its mean scores.

        Parameters
        ----------
        classes : list of str
            Class names, in the order of the score columns.

        Returns
        -------
        list of dict
            ``track``, ``first_frame``, ``last_frame``, ``n_frames``, ``label`` and ``mean_scores`` (class → mean).
        """
        confirmed = self.confirmed()
        return [
            {
                "track": t.id,
                "first_frame": t.first_frame,
                "last_frame": t.last_frame,
                "n_frames": t.n_frames,
                "label": classes[int(np.argmax(t.total))],
                "mean_scores": {c: round(float(v), 4) for c, v in zip(classes, t.total / t.n_frames)},
            }
            for t in self._tracks
            if t.id in confirmed
        ]
