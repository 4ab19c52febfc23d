"""Reading checkpoints: the one place the suite opens a ``.ckpt`` file for its own use.

Always ``torch.load(..., weights_only=True)``: a checkpoint is data, and a pickle that would run code
on load is refused, never retried with unsafe loading. Errors are one line naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from semcolor.errors import SemcolorError


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict at ``path`` (tensors on the CPU), or a :class:`SemcolorError` saying why not."""
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise SemcolorError(f"checkpoint not found: '{path}'")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message suggests weights_only=False, i.e. running whatever the file contains: never
        raise SemcolorError(f"'{path}' is not a readable checkpoint: it holds objects other than tensors and "
                            f"plain data (refused without loading them)") from exc
    except Exception as exc:  # truncated, random bytes, not a zip/pickle at all
        raise SemcolorError(f"'{path}' is not a readable checkpoint ({type(exc).__name__})") from exc
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise SemcolorError(f"'{path}' is not a Lightning checkpoint (no state_dict)")
    return ckpt
