"""What a model tells the whole-scene pipeline about itself: the one contract between them.

Every registered method returns a :class:`PredictContract` from ``SemcolorModule.predict_contract()``
(tested for each of them in ``tests/lightning_modules/test_predict_contract.py``); the scene DataModule
reads the model only through it. Nothing else of the model is inspected.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PredictContract:
    """A model's whole-scene prediction settings.

    Args:
        in_channels: input bands the model takes (None: any number, e.g. an identity).
        tile: window side the model predicts best at (its training / paper tile).
        overlap: default overlap of adjacent windows, in pixels.
        input_scaling: ``None`` for 8-bit data divided by 255, or ``(offset, scale)`` for
            ``(DN - offset) / scale`` of higher bit-depth data (see :mod:`semcolor.scenes.datamodule`).
    """

    in_channels: int | None = None
    tile: int = 256
    overlap: int = 64
    input_scaling: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.tile <= 0 or not 0 <= self.overlap < self.tile:
            raise ValueError(f"a contract needs tile > 0 and 0 <= overlap < tile, got {self.tile} / {self.overlap}")
        if self.in_channels is not None and self.in_channels <= 0:
            raise ValueError(f"in_channels must be positive, got {self.in_channels}")
        if self.input_scaling is not None and self.input_scaling[1] <= 0:
            raise ValueError(f"input_scaling's scale must be positive, got {self.input_scaling}")


#: what the scene pipeline assumes without a model
DEFAULT_CONTRACT = PredictContract()
