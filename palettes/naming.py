"""The 11-term colour-naming model: RGB -> probabilities of the basic colour terms.

Xue 2025 (thesis), §3.3.4 uses "the model described in [167]": van de Weijer, Schmid, Verbeek, Larlus,
"Learning Color Names for Real-World Applications", IEEE TIP 2009, a lookup table of
P(term | RGB) on a 32 x 32 x 32 grid of 8-bit sRGB (bins of 8 levels), learned from Google images (PLSA-bg).
That table ships as package data (``palettes/data/w2c.npz``, float16; citation, source and layout in
``palettes/data/README.md``). Lookups are vectorised: one integer index per pixel into the table.

Colour-naming association, Eq. 3.3: a source -> group match is kept only when the Euclidean distance of
the two colours' 11-D probability vectors is at most ``d_name`` (0.8 in §3.4.1; the maximum is sqrt(2)).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from semcolor.palettes.color import lab_to_rgb_np, to_uint8

__all__ = ["TERMS", "ColorNamingModel", "default_naming_model", "TABLE_PATH", "D_NAME"]

#: the 11 basic colour terms in the table's column order (van de Weijer et al. 2009)
TERMS: tuple[str, ...] = ("black", "blue", "brown", "grey", "green", "orange", "pink", "purple", "red", "white",
                          "yellow")
#: the packaged table
TABLE_PATH = Path(__file__).resolve().parent / "data" / "w2c.npz"
#: Eq. 3.3's threshold (Xue 2025 (thesis), §3.4.1)
D_NAME = 0.8


class ColorNamingModel:
    """P(term | sRGB) from a lookup table of shape ``(32768, 11)`` (rows indexed ``R//8 + 32 G//8 + 1024 B//8``).

    Args:
        table: the probability table (rows sum to 1), columns in :data:`TERMS` order.
    """

    def __init__(self, table: np.ndarray) -> None:
        table = np.asarray(table, dtype=np.float32)
        if table.shape != (32768, len(TERMS)):
            raise ValueError(f"a colour-naming table must be (32768, {len(TERMS)}), got {table.shape}")
        self.table = table

    @classmethod
    def from_file(cls, path: str | Path = TABLE_PATH) -> ColorNamingModel:
        with np.load(path) as z:
            return cls(z["w2c"])

    @staticmethod
    def index(rgb: np.ndarray) -> np.ndarray:
        """Table rows of ``rgb`` ``(..., 3)`` (uint8, or float in [0, 1] rounded to 8 bits) -> int ``(...)``."""
        q = to_uint8(rgb).astype(np.int32) >> 3
        return q[..., 0] + 32 * q[..., 1] + 1024 * q[..., 2]

    def probabilities(self, rgb: np.ndarray) -> np.ndarray:
        """``(..., 3)`` sRGB -> ``(..., 11)`` float32 probabilities (columns :data:`TERMS`)."""
        rgb = np.asarray(rgb)
        if rgb.shape[-1:] != (3,):
            raise ValueError(f"rgb must be shaped (..., 3), got {rgb.shape}")
        return self.table[self.index(rgb)]

    def name(self, rgb: np.ndarray) -> np.ndarray:
        """Index into :data:`TERMS` of the most likely name of each colour ``(..., 3)`` -> int ``(...)``."""
        return self.table[self.index(rgb)].argmax(-1)

    def lab_probabilities(self, lab: np.ndarray) -> np.ndarray:
        """Probabilities of CIELAB colours ``(..., 3)`` (converted to sRGB, clipped to the gamut)."""
        return self.probabilities(lab_to_rgb_np(lab))

    def associated(self, source_lab: np.ndarray, group_lab: np.ndarray, d_name: float = D_NAME) -> np.ndarray:
        """Eq. 3.3: True where ``||p(c_s) - p(c_g)||_2 <= d_name`` for matched pairs ``(..., 3)`` of CIELAB colours."""
        dist = np.linalg.norm(self.lab_probabilities(source_lab) - self.lab_probabilities(group_lab), axis=-1)
        return dist <= d_name


@lru_cache(maxsize=1)
def default_naming_model() -> ColorNamingModel:
    """The packaged van de Weijer et al. 2009 model, loaded once."""
    return ColorNamingModel.from_file(TABLE_PATH)
