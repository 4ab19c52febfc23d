"""The checkpoint I/O every trainer the CLI builds uses: Lightning's file handling, our read and write.

``Trainer.fit(ckpt_path=...)`` (resuming), ``validate/test/predict(ckpt_path=...)`` and every
``ModelCheckpoint`` save go through the strategy's ``CheckpointIO``. Lightning's default reads with
``weights_only=None`` (torch's default, which an environment variable can turn off, and which the CLI's
``--weights_only=false`` turns off) and writes through fsspec's transaction (not atomic on local disks,
see :mod:`semcolor.checkpoints`). This one reads with :func:`~semcolor.checkpoints.read_torch_file`
(always ``weights_only=True``, one-line errors) and writes with
:func:`~semcolor.checkpoints.write_checkpoint` (temporary file in the same folder, fsync, rename).
"""

from __future__ import annotations

from typing import Any

from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from semcolor.checkpoints import read_torch_file, write_checkpoint
from semcolor.errors import SemcolorError


class SafeCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` with data-only reads and atomic local writes (see the module docstring)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("SafeCheckpointIO.save_checkpoint takes no storage_options")
        if "://" in str(path):  # remote storage: fsspec's transaction is the atomic write there
            super().save_checkpoint(checkpoint, path)
            return
        write_checkpoint(checkpoint, path)

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        if weights_only is False:
            raise SemcolorError(f"refusing to read '{path}' with weights_only=false: checkpoints are read as data "
                                f"only (a pickle could run code on load)")
        if "://" in str(path):
            return super().load_checkpoint(path, weights_only=True)
        # data only; any shape: ddp_spawn hands the trained weights back as a bare state dict (.temp.ckpt)
        return read_torch_file(path, "checkpoint")


def use_safe_checkpoint_io(trainer: Any) -> None:
    """Give ``trainer``'s strategy a :class:`SafeCheckpointIO` unless it has a non-default one (a user's
    plugin, or a strategy with its own sharded format)."""
    strategy = trainer.strategy
    current = getattr(strategy, "_checkpoint_io", None)
    if current is None or type(current) is TorchCheckpointIO:
        strategy.checkpoint_io = SafeCheckpointIO()
