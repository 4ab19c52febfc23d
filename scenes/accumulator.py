"""Blend window predictions into final scene rows, one strip at a time (memory flat in the scene height).

Windows arrive in row-major order (the scene DataModule's sampler guarantees it); each is multiplied by
its blend weights (:mod:`semcolor.scenes.blending`) and added, with the weights, into a float32 *strip*
accumulator one window tall and one scene wide. When the last window of a window row has arrived, the
rows above the next window row's start can no longer change: they are divided by the accumulated weight
sum, converted to the output type by the sink's ``convert`` (nodata masked with the input's mask) and
handed to ``emit``; then the strip moves down. Memory: ``(bands + 1) * 4 * tile * width`` bytes of
accumulator plus the converted rows, whatever the scene's height (rows are finished a band of columns at
a time, so there are no other scene-wide temporaries). Knows nothing of files or of Lightning.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from semcolor.errors import SemcolorError
from semcolor.scenes.blending import BlendWeights

#: ``convert(values (C, h, w) float32 in place, valid (h, w) bool or None) -> rows of the output dtype``
Convert = Callable[[np.ndarray, "np.ndarray | None"], np.ndarray]
#: ``emit(first scene row, rows (C, n, width))``: final rows, in order
Emit = Callable[[int, np.ndarray], None]


class StripAccumulator:
    """Weighted sums of the windows of one rank's window rows, finished into output rows as they complete.

    Args:
        grid: the :class:`~semcolor.scenes.datamodule.SceneGrid` of the scene.
        plan: this rank's :class:`~semcolor.scenes.datamodule.RankPlan` (window rows it receives, rows it owns).
        weights: the blend weights of every window.
        has_mask: the input marks nodata (a validity mask per window is kept beside the sums).
        dtype: numpy dtype of the converted rows.
        convert: values -> output rows (see :data:`Convert`).
        emit: receives every final owned row, top to bottom (see :data:`Emit`).
        on_channels: called once with the band count of the first window, before anything is emitted.
        rank: for messages.
    """

    #: columns converted at a time when rows are finished (bounds the temporaries)
    CHUNK = 1024

    def __init__(self, grid, plan, weights: BlendWeights, has_mask: bool, dtype: str, convert: Convert,
                 emit: Emit, on_channels: Callable[[int], None] | None = None, rank: int = 0) -> None:
        self.grid, self.plan, self.weights = grid, plan, weights
        self.has_mask, self.dtype, self.rank = has_mask, dtype, rank
        self.convert, self.emit, self.on_channels = convert, emit, on_channels
        self.top = grid.row_starts[plan.first_row] if not plan.empty else 0  # scene row of the strip's row 0
        self.next = plan.first_row  # the next window row to complete
        self.channels = 0
        self._count: dict[int, int] = {}
        self._acc: np.ndarray | None = None
        self._valid: np.ndarray | None = None
        self._rows: np.ndarray | None = None  # converted final rows, reused

    def _allocate(self, channels: int) -> None:
        self.channels = channels
        self._acc = np.zeros((channels + 1, self.grid.tile, self.grid.width), np.float32)
        if self.has_mask:
            self._valid = np.zeros((self.grid.tile, self.grid.width), bool)
        self._scratch = np.empty((channels, self.grid.tile, self.grid.tile), np.float32)
        if self.on_channels is not None:
            self.on_channels(channels)

    def add(self, k: int, pred: np.ndarray, valid: np.ndarray | None) -> None:
        """Add window ``k``'s prediction ``(C, >=h, >=w)`` (and its validity ``(h, w)``); finish every row
        that this completes."""
        g = self.grid
        i, j, r, c, h, w = g.window(k)
        if not self.plan.first_row <= i < self.plan.stop_row:
            raise RuntimeError(f"window {k} (row {i}) is not in rank {self.rank}'s rows "
                               f"[{self.plan.first_row}, {self.plan.stop_row})")
        if self._acc is None:
            self._allocate(pred.shape[0])
        if pred.shape[0] != self.channels or pred.shape[1] < h or pred.shape[2] < w:
            raise SemcolorError(f"prediction of window {k} has shape {pred.shape}; expected "
                                f"({self.channels}, >={h}, >={w}) like the first window")
        if r < self.top:
            raise RuntimeError(f"window {k} arrived after rows {r}..{self.top} were written "
                               f"(windows must come in row-major order)")
        self._grow(r + h)
        acc = self._acc
        assert acc is not None
        wt = self.weights(i, j)
        y = r - self.top
        tmp = self._scratch[:, :h, :w]  # reused: no allocation per window
        np.multiply(pred[:, :h, :w], wt, out=tmp)
        acc[:-1, y : y + h, c : c + w] += tmp
        acc[-1, y : y + h, c : c + w] += wt
        if self._valid is not None and valid is not None:
            self._valid[y : y + h, c : c + w] = valid[:h, :w]
        done = self._count.get(i, 0) + 1
        if done > g.n_cols:
            raise RuntimeError(f"window row {i} received more than its {g.n_cols} windows")
        self._count[i] = done
        while self._count.get(self.next, 0) == g.n_cols:
            del self._count[self.next]
            self._finish_rows(self.next)
            self.next += 1

    def _grow(self, end: int) -> None:
        """Make the strip reach scene row ``end`` (only needed if windows come out of order)."""
        assert self._acc is not None
        need = end - self.top
        if need <= self._acc.shape[1]:
            return
        acc = np.zeros((self._acc.shape[0], need, self._acc.shape[2]), np.float32)
        acc[:, : self._acc.shape[1]] = self._acc
        self._acc = acc
        if self._valid is not None:
            valid = np.zeros((need, self._valid.shape[1]), bool)
            valid[: self._valid.shape[0]] = self._valid
            self._valid = valid

    def _finish_rows(self, i: int) -> None:
        """Window row ``i`` is complete: rows ``[top, start of row i + 1)`` are final."""
        acc = self._acc
        assert acc is not None
        end = self.grid.final_row(i)
        n = end - self.top
        if n <= 0:
            return
        lo, hi = max(self.top, self.plan.own_start), min(end, self.plan.own_end)
        if lo < hi:
            a, b = lo - self.top, hi - self.top
            if self._rows is None or self._rows.shape[1] < b - a:
                self._rows = np.empty((self.channels, acc.shape[1], self.grid.width), self.dtype)
            rows = self._rows[:, : b - a]
            # a band of columns at a time: scene-wide temporaries would make memory grow with the width
            for c0 in range(0, self.grid.width, self.CHUNK):
                c1 = min(self.grid.width, c0 + self.CHUNK)
                wsum = acc[-1, a:b, c0:c1]
                if not (wsum > 0).all():
                    raise RuntimeError(f"rows {lo}..{hi} have pixels no window covered (a bug in the grid)")
                valid = self._valid[a:b, c0:c1] if self._valid is not None else None
                rows[:, :, c0:c1] = self.convert(acc[:-1, a:b, c0:c1] / wsum, valid)
            self.emit(lo, rows)
        self._shift(n)
        self.top = end

    def _shift(self, n: int) -> None:
        """Move the strip up by ``n`` rows, in non-overlapping pieces (numpy would first copy the whole
        overlapping source of a single slice assignment), and clear the rows that became free."""
        acc = self._acc
        assert acc is not None
        cap = acc.shape[1]
        for a in range(0, cap - n, n):
            b = min(a + n, cap - n)
            acc[:, a:b] = acc[:, a + n : b + n]
            if self._valid is not None:
                self._valid[a:b] = self._valid[a + n : b + n]
        acc[:, max(cap - n, 0) :] = 0.0
        if self._valid is not None:
            self._valid[max(cap - n, 0) :] = False


__all__ = ["StripAccumulator"]
