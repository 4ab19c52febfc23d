"""Whole-scene prediction input: overlapping windows of one GeoTIFF, with their positions.

``SceneDataModule`` serves the ``predict`` stage only. It cuts the scene into ``tile_size`` windows
overlapping by ``overlap`` pixels on the grid of :func:`semcolor.datamodules.raster.grid_starts` with
``edge="shift"`` (the last window of a row/column is shifted to end at the scene border, so every
window lies inside the scene, every pixel is covered and nothing is padded -- no black borders); a
scene smaller than the tile gets one window, read in full and reflect-padded to the tile. The
:class:`semcolor.scenes.writer.SceneWriter` callback stitches the predictions.

Nothing scene-sized is held: the dataset keeps the grid and reads one window per item.

Batches (dicts, default collation):

* ``input`` float32 ``(N, C, T, T)``: the selected bands, scaled for the model (below);
* ``index`` int64 ``(N,)``: the window's flat index in the grid (row-major);
* ``window`` int64 ``(N, 4)``: ``(row_off, col_off, height, width)`` of the window's in-scene part;
* ``valid`` bool ``(N, T, T)``: only when the scene has nodata or a per-dataset mask; False where the
  input is nodata (the writer writes nodata there).

**Scaling** (which values reach the model). A model says what it was trained on with
the contract's ``input_scaling``: ``None`` (the default) means 8-bit data divided by 255; a pair
``(offset, scale)`` means ``(DN - offset) / scale`` of integer data wider than 8 bits (the embedded
``render16`` convention is ``(1000, 10000)``). Resolution, first match wins:

1. ``scale`` given: ``(DN - offset) / scale``, not clipped;
2. ``bit_depth`` given: ``DN / (2**bit_depth - 1)`` clipped to [0, 1] (e.g. 12-bit data in uint16);
3. uint8 data and an 8-bit model: ``DN / 255``; uint8 data and a model with ``input_scaling``: error;
4. integer data wider than 8 bits and a model with ``input_scaling``: that;
5. integer data wider than 8 bits and an 8-bit model: **error** -- dividing by 65535 would feed the
   model values far darker than anything it saw, so the user must say what the data mean;
6. float data: as stored (assumed already in the model's units).

The model is read only through its :class:`~semcolor.scenes.contract.PredictContract`
(``model.predict_contract()``): input bands, tile, overlap and input scaling. **Tiling** defaults come
from it (SECBNet's paper uses 256-pixel blocks overlapping by R = 100 rows/columns); without a model,
256 / 64.

**DDP** (``predict`` on several devices): instead of Lightning's interleaved sampler, each rank gets a
contiguous block of window rows (:meth:`SceneGrid.partition`) through :class:`SceneSampler`, a
``DistributedSampler`` subclass, so Lightning keeps it. A rank *owns* the output rows between its first
window row's start and the next rank's, and also computes the window rows above its block that reach
into its rows (a halo, usually one window row), so every rank produces final pixels for its own rows
without exchanging accumulators; the writer merges the ranks' row bands. The halo costs one window row
per extra rank and makes a multi-rank result identical to a single-rank one.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import torch
from rasterio.enums import MaskFlags
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from semcolor.datamodules.base import SemcolorDataModule
from semcolor.datamodules.raster import (
    alpha_band,
    band_names_of,
    default_selection,
    grid_starts,
    open_raster,
    read_window,
    resolve_bands,
)
from semcolor.errors import CorruptFileError, DatasetLayoutError, SemcolorError
from semcolor.scenes.contract import DEFAULT_CONTRACT


# ----------------------------------------------------------------------------------------------
# the window grid and its split over ranks
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RankPlan:
    """What one rank predicts: window rows ``[first_row, stop_row)`` (flat indices
    ``[start, stop)``) and the output rows ``[own_start, own_end)`` it is responsible for."""

    rank: int
    first_row: int
    stop_row: int
    start: int
    stop: int
    own_start: int
    own_end: int

    @property
    def empty(self) -> bool:
        return self.own_end <= self.own_start


@dataclass(frozen=True)
class SceneGrid:
    """Windows of ``tile`` pixels overlapping by ``overlap`` over a ``height x width`` scene.

    Window ``k`` is window row ``k // n_cols``, window column ``k % n_cols``; its in-scene part is
    ``min(tile, height - row) x min(tile, width - col)`` pixels (less than the tile only for scenes
    smaller than it).
    """

    height: int
    width: int
    tile: int
    overlap: int
    row_starts: tuple[int, ...]
    col_starts: tuple[int, ...]

    @classmethod
    def build(cls, height: int, width: int, tile: int, overlap: int) -> SceneGrid:
        if tile <= 0 or not 0 <= overlap < tile:
            raise SemcolorError(f"tile_size must be > 0 and 0 <= overlap < tile_size; got {tile} / {overlap}")
        stride = tile - overlap
        rows = tuple(grid_starts(height, tile, stride, "shift"))
        cols = tuple(grid_starts(width, tile, stride, "shift"))
        return cls(height, width, tile, overlap, rows, cols)

    @property
    def n_rows(self) -> int:
        return len(self.row_starts)

    @property
    def n_cols(self) -> int:
        return len(self.col_starts)

    def __len__(self) -> int:
        return self.n_rows * self.n_cols

    def window(self, k: int) -> tuple[int, int, int, int, int, int]:
        """``(grid_row, grid_col, row_off, col_off, height, width)`` of window ``k`` (in-scene part)."""
        i, j = divmod(int(k), self.n_cols)
        r, c = self.row_starts[i], self.col_starts[j]
        return i, j, r, c, min(self.tile, self.height - r), min(self.tile, self.width - c)

    def final_row(self, i: int) -> int:
        """Rows above this are complete once window rows ``0..i`` are done (later rows start here)."""
        return self.row_starts[i + 1] if i + 1 < self.n_rows else self.height

    def first_row_reaching(self, row: int) -> int:
        """The first window row whose windows reach below scene row ``row``."""
        return next(i for i in range(self.n_rows)
                    if self.row_starts[i] + min(self.tile, self.height - self.row_starts[i]) > row)

    def resumed(self, plan: RankPlan, row: int) -> RankPlan:
        """``plan`` without the output rows above ``row`` (already written by an earlier run) and without
        the window rows that only reach those."""
        if row <= plan.own_start or plan.empty:
            return plan
        if row >= plan.own_end:
            return RankPlan(plan.rank, plan.stop_row, plan.stop_row, plan.stop, plan.stop, plan.own_end, plan.own_end)
        first = self.first_row_reaching(row)
        return RankPlan(plan.rank, first, plan.stop_row, first * self.n_cols, plan.stop, row, plan.own_end)

    def partition(self, world_size: int) -> list[RankPlan]:
        """Contiguous blocks of window rows per rank, each with the halo rows reaching its own rows."""
        n = self.n_rows
        cores = [(k * n) // world_size for k in range(world_size + 1)]
        starts = [self.row_starts[g] if g < n else self.height for g in cores[:-1]] + [self.height]
        plans = []
        for k in range(world_size):
            own_start, own_end = starts[k], starts[k + 1]
            stop_row = cores[k + 1]
            if own_end <= own_start:
                first_row = stop_row = cores[k]
            else:
                first_row = self.first_row_reaching(own_start)
            plans.append(RankPlan(k, first_row, stop_row, first_row * self.n_cols, stop_row * self.n_cols,
                                  own_start, own_end))
        return plans


class SceneSampler(DistributedSampler):
    """The flat window indices of one rank's :class:`RankPlan`, in order.

    A ``DistributedSampler`` subclass only so that Lightning does not replace it with its own
    interleaving sampler under DDP (it keeps samplers that already are distributed); with one rank it
    yields every window in row-major order.
    """

    def __init__(self, grid: SceneGrid, num_replicas: int = 1, rank: int = 0, plan: RankPlan | None = None) -> None:
        super().__init__(range(len(grid)), num_replicas=num_replicas, rank=rank, shuffle=False)
        self.plan = plan if plan is not None else grid.partition(num_replicas)[rank]

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.plan.start, self.plan.stop))

    def __len__(self) -> int:
        return self.plan.stop - self.plan.start


# ----------------------------------------------------------------------------------------------
# the scene file
# ----------------------------------------------------------------------------------------------
@dataclass
class SceneInfo:
    """What the writer needs to know about the input scene (read once, no pixels)."""

    path: Path
    height: int
    width: int
    count: int
    dtype: str
    crs: Any
    transform: Any
    nodata: float | None
    band_names: tuple[str, ...]
    bands: list[int]  # 1-based rasterio indexes of the selected bands
    descriptions: tuple[str | None, ...]  # of the selected bands
    has_dataset_mask: bool

    @property
    def has_mask(self) -> bool:
        return self.nodata is not None or self.has_dataset_mask

    @classmethod
    def read(cls, path: str | Path, bands: Sequence[str | int] | None = None,
             band_names: Sequence[str] | None = None, nodata: float | None = None) -> SceneInfo:
        path = Path(path)
        with open_raster(path, "an input scene GeoTIFF") as src:
            descriptions = tuple(src.descriptions)
            names = band_names_of(src, band_names)  # a B, G, R(, alpha)-tagged file is read as R, G, B
            selected = resolve_bands(bands if bands is not None else default_selection(names), names, path)
            flags = src.mask_flag_enums[0] if src.count else []
            # GDAL takes the 4th band of any 4-band 8-bit GeoTIFF as alpha (GID's NIR-R-G-B among them): an
            # alpha band masks only when the file's own colour interpretation named it (band_names_of)
            trusted_alpha = alpha_band(names) is not None and alpha_band(names) not in selected
            dataset_mask = MaskFlags.per_dataset in flags and (MaskFlags.alpha not in flags or trusted_alpha)
            if len(set(src.dtypes[b - 1] for b in selected)) != 1:
                raise DatasetLayoutError(f"'{path}': the selected bands {selected} have different data types")
            return cls(
                path=path, height=src.height, width=src.width, count=src.count,
                dtype=src.dtypes[selected[0] - 1], crs=src.crs, transform=src.transform,
                nodata=src.nodata if nodata is None else nodata, band_names=names, bands=selected,
                descriptions=tuple(descriptions[b - 1] for b in selected), has_dataset_mask=dataset_mask,
            )


def resolve_scaling(info: SceneInfo, *, scale: float | None, offset: float, bit_depth: int | None,
                    model_scaling: tuple[float, float] | None, model_name: str = "the model"
                    ) -> tuple[float, float, bool]:
    """``(offset, scale, clip)`` so the model sees ``(DN - offset) / scale``; see the module docstring."""
    dt = np.dtype(info.dtype)
    if scale is not None:
        if scale <= 0:
            raise SemcolorError(f"scale must be positive, got {scale}")
        return float(offset), float(scale), False
    if bit_depth is not None:
        if not 1 <= bit_depth <= 32:
            raise SemcolorError(f"bit_depth must be between 1 and 32, got {bit_depth}")
        return 0.0, float(2**bit_depth - 1), True
    if np.issubdtype(dt, np.floating):
        return 0.0, 1.0, False
    if dt == np.uint8:
        if model_scaling is not None:
            raise DatasetLayoutError(
                f"'{info.path}' holds 8-bit data but {model_name} expects (DN - {model_scaling[0]:g}) / "
                f"{model_scaling[1]:g} of higher bit-depth data; give scale= (and offset=) to say what the "
                f"8-bit values mean")
        return 0.0, 255.0, True
    if model_scaling is not None:
        return float(model_scaling[0]), float(model_scaling[1]), False
    raise DatasetLayoutError(
        f"'{info.path}' holds {info.dtype} data but {model_name} was trained on 8-bit input scaled to "
        f"[0, 1]; say how to scale it: bit_depth=<significant bits, e.g. 12 or 16> (DN / (2**bits - 1)) "
        f"or scale=<the DN that maps to 1.0> (and offset=)")


class SceneWindows(Dataset):
    """Window ``k`` of a :class:`SceneGrid`, read from the scene and scaled (see module docstring).

    The file is opened lazily once per process (DataLoader workers each open their own handle).
    """

    def __init__(self, info: SceneInfo, grid: SceneGrid, offset: float = 0.0, scale: float = 255.0,
                 clip: bool = True, gdal_cache_mb: int | None = 64) -> None:
        self.info, self.grid = info, grid
        self.gdal_cache_mb = gdal_cache_mb
        self.offset, self.scale, self.clip = np.float32(offset), np.float32(scale), clip
        dt = np.dtype(info.dtype)
        # clipping is a no-op (skipped) when the type's range already maps into [0, 1]
        self._clip = clip and (dt.kind == "f" or bool(offset) or np.iinfo(dt).min < 0 or np.iinfo(dt).max > scale)
        self._src: Any = None
        self._ctx: Any = None
        self._pid = -1

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_src"], state["_ctx"], state["_pid"] = None, None, -1
        return state

    def _open(self) -> Any:
        if self._src is None or self._pid != os.getpid():
            if self.gdal_cache_mb is not None:  # GDAL's default (5% of RAM) would fill with the scene
                rasterio.env.set_gdal_config("GDAL_CACHEMAX", int(self.gdal_cache_mb) * 2**20)
            self._ctx = open_raster(self.info.path, "an input scene GeoTIFF")  # kept: closes when collected
            self._src, self._pid = self._ctx.__enter__(), os.getpid()
        return self._src

    def close(self) -> None:
        if self._src is not None and self._pid == os.getpid():
            self._src.close()
        self._src = self._ctx = None

    def __len__(self) -> int:
        return len(self.grid)

    def __getitem__(self, k: int) -> dict[str, Any]:
        info, t = self.info, self.grid.tile
        _, _, r, c, h, w = self.grid.window(k)
        src = self._open()
        win = Window(c, r, w, h)
        raw = read_window(src, win, info.bands)
        valid = None
        if info.nodata is not None:
            nd = info.nodata
            invalid = np.isnan(raw).all(0) if isinstance(nd, float) and np.isnan(nd) else (raw == nd).all(0)
            valid = ~invalid
        if info.has_dataset_mask:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                m = src.read_masks(info.bands[0], window=win) > 0
            valid = m if valid is None else valid & m
        if np.issubdtype(raw.dtype, np.floating):
            x = raw.astype(np.float32)
            bad = ~np.isfinite(x)
            if valid is not None:
                bad &= valid[None]
            if bad.any():
                raise CorruptFileError(info.path, "finite pixel values",
                                       f"{int(bad.sum())} NaN/inf values in window rows {r}:{r + h}, cols {c}:{c + w}")
            x[~np.isfinite(x)] = 0.0
            x -= self.offset
            x /= self.scale
        elif self.offset:
            x = np.subtract(raw, self.offset, dtype=np.float32)
            x /= self.scale
        else:  # one pass from the integers to float32 (the same values as astype, then divide)
            x = np.divide(raw, self.scale, dtype=np.float32)
        if self._clip:
            np.clip(x, 0.0, 1.0, out=x)
        if (h, w) != (t, t):  # a scene smaller than the tile: reflect-pad to the tile (only then)
            x = np.pad(x, ((0, 0), (0, t - h), (0, t - w)), mode="reflect" if min(h, w) > 1 else "edge")
            if valid is not None:
                valid = np.pad(valid, ((0, t - h), (0, t - w)))
        sample: dict[str, Any] = {
            "input": torch.from_numpy(np.ascontiguousarray(x)),
            "index": torch.tensor(int(k), dtype=torch.int64),
            "window": torch.tensor([r, c, h, w], dtype=torch.int64),
        }
        if info.has_mask:
            sample["valid"] = torch.from_numpy(valid if valid is not None else np.ones((t, t), bool))
        return sample


def collate_windows(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Batch window samples with ``np.stack``. torch's default collation stacks with ATen's OpenMP
    threads, which on an oversubscribed CPU (shared machines, DataLoader workers beside the model's
    threads) spends far longer waiting on its thread barrier than copying: 80 ms instead of 0.1 ms
    per batch of five 128-pixel windows was measured here."""
    return {key: torch.from_numpy(np.stack([s[key].numpy() for s in samples])) for key in samples[0]}


# ----------------------------------------------------------------------------------------------
# the DataModule
# ----------------------------------------------------------------------------------------------
class SceneDataModule(SemcolorDataModule):
    """Windows of one scene GeoTIFF for ``semcolor predict`` (see the module docstring).

    The file and the band selection are checked on first use of :attr:`scene` (from :meth:`setup`, before
    the checkpoint is loaded); tiling and scaling are resolved against the model in :meth:`setup` (or
    :meth:`configure_for` outside a Trainer).

    Args:
        input: the scene (GeoTIFF or anything GDAL reads).
        tile_size: window side in pixels (default: the model's ``predict_tiling``, else 256).
        overlap: pixels shared by adjacent windows (default: the model's ``predict_tiling``, else 64).
        bands: band selection, names (case-insensitive) or 0-based positions, e.g. ``["R", "G", "B"]``
            for GID's NIR-R-G-B files; default every band.
        band_names: names of the file's bands (default: the file's band descriptions when every band
            has a distinct one, else R,G,B for 3 bands and NIR,R,G,B for 4).
        bit_depth: significant bits of integer data (``DN / (2**bit_depth - 1)``).
        scale, offset: the model sees ``(DN - offset) / scale``; overrides ``bit_depth`` and the model.
        nodata: nodata value to use instead of the file's.
        batch_size: windows per batch.
        num_workers: DataLoader worker processes reading windows.
        pin_memory: pin host memory when a GPU is used.
        gdal_cache_mb: cap on GDAL's block cache in each reading process (GDAL's default, 5% of RAM,
            would keep filling with the scene's blocks; two rows of input blocks are all a window row
            needs); None leaves GDAL's setting alone.
    """

    def __init__(
        self,
        input: str,
        tile_size: int | None = None,
        overlap: int | None = None,
        bands: list[str | int] | None = None,
        band_names: list[str] | None = None,
        bit_depth: int | None = None,
        scale: float | None = None,
        offset: float = 0.0,
        nodata: float | None = None,
        batch_size: int = 8,
        num_workers: int = 0,
        pin_memory: bool = False,
        gdal_cache_mb: int | None = 64,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, pin_memory=pin_memory)
        self.gdal_cache_mb = gdal_cache_mb
        self.input_path = Path(input)
        self.tile_size, self.overlap = tile_size, overlap
        self.bit_depth, self.scale, self.offset = bit_depth, scale, offset
        self.bands, self.band_names, self.nodata = bands, band_names, nodata
        self._scene: SceneInfo | None = None
        self.grid: SceneGrid | None = None
        self.dataset: SceneWindows | None = None
        self._resume_row: int | None = None

    @property
    def scene(self) -> SceneInfo:
        """The input's size, georeferencing and band selection, read (and checked) on first use.

        Not read in ``__init__``: jsonargparse would turn the error into a generic "does not validate"
        message; read from :meth:`setup`, before the checkpoint is loaded, it reaches the user as is.
        """
        if self._scene is None:
            self._scene = SceneInfo.read(self.input_path, self.bands, self.band_names, self.nodata)
        return self._scene

    # -- resolution against the model ---------------------------------------------------------------
    def configure_for(self, model: Any = None) -> SceneGrid:
        """Resolve tiling, scaling and the band count against ``model`` (None: defaults); build the grid."""
        name = type(model).__name__ if model is not None else "the model"
        contract = model.predict_contract() if model is not None else DEFAULT_CONTRACT
        tile = self.tile_size if self.tile_size is not None else contract.tile
        overlap = self.overlap if self.overlap is not None else min(contract.overlap, tile // 2)
        expected = contract.in_channels
        n = len(self.scene.bands)
        if expected is not None and int(expected) != n:
            names = ", ".join(self.scene.band_names)
            raise DatasetLayoutError(
                f"'{self.input_path}': {n} band(s) selected ({', '.join(self.scene.band_names[b - 1] for b in self.scene.bands)}) "
                f"but {name} takes {expected}; the file's bands are {names}: choose {expected} with bands=[...]")
        offset, scale, clip = resolve_scaling(
            self.scene, scale=self.scale, offset=self.offset, bit_depth=self.bit_depth,
            model_scaling=contract.input_scaling, model_name=name)
        self.grid = SceneGrid.build(self.scene.height, self.scene.width, int(tile), int(overlap))
        self.dataset = SceneWindows(self.scene, self.grid, offset, scale, clip, self.gdal_cache_mb)
        return self.grid

    def plan(self, rank: int = 0, world_size: int = 1) -> RankPlan:
        """What ``rank`` predicts; without the rows before :meth:`resume_at`'s row."""
        if self.grid is None:
            raise RuntimeError("SceneDataModule.configure_for() / setup('predict') must run first")
        plan = self.grid.partition(world_size)[rank]
        return self.grid.resumed(plan, self._resume_row) if self._resume_row else plan

    def resume_at(self, row: int | None) -> None:
        """Skip this rank's output rows above scene row ``row`` (an earlier run wrote them; see
        :mod:`semcolor.scenes.resume`). Called by the writer before the loader is made."""
        self._resume_row = row

    # -- Lightning ------------------------------------------------------------------------------------
    def build_dataset(self, split: str) -> Dataset:
        raise SemcolorError(
            f"SceneDataModule only serves `predict` (asked for the {split!r} split); train and test on a "
            f"dataset DataModule")

    def setup(self, stage: str | None = None) -> None:
        if stage not in ("predict", None):
            self.build_dataset({"fit": "train", "validate": "val"}.get(stage, stage))
        model = self.trainer.lightning_module if self.trainer is not None else None
        self.configure_for(model)

    def dataloader(self, rank: int = 0, world_size: int = 1) -> DataLoader:
        """The windows of ``rank``'s :class:`RankPlan`, in row-major order, batched."""
        if self.dataset is None or self.grid is None:
            self.configure_for(None)
        assert self.dataset is not None and self.grid is not None
        return DataLoader(
            self.dataset, batch_size=self.eval_batch_size,
            sampler=SceneSampler(self.grid, world_size, rank, self.plan(rank, world_size)),
            collate_fn=collate_windows, num_workers=self.num_workers, pin_memory=self.pin_memory and torch.cuda.is_available(),
        )

    def predict_dataloader(self) -> DataLoader:
        trainer = self.trainer
        return self.dataloader(trainer.global_rank, trainer.world_size) if trainer else self.dataloader()

    def teardown(self, stage: str | None = None) -> None:
        if self.dataset is not None:
            self.dataset.close()

    def describe(self) -> dict[str, Any]:
        g = self.grid
        return {"scene": str(self.input_path), "size": (self.scene.height, self.scene.width),
                "windows": len(g) if g else None, "tile": g.tile if g else None,
                "overlap": g.overlap if g else None}


__all__ = ["RankPlan", "SceneDataModule", "SceneGrid", "SceneInfo", "SceneSampler",
           "SceneWindows", "collate_windows", "resolve_scaling"]

