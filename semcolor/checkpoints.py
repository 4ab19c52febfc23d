"""Reading and writing checkpoints: the one place the suite opens a ``.ckpt`` (or any ``torch.save``
file: pretrained weights, state dicts) and the one place it writes one.

Reading is always ``torch.load(..., weights_only=True)``: a checkpoint is data, and a pickle that
would run code on load is refused, never retried with unsafe loading (torch's own message suggests
``weights_only=False``; ours does not). Errors are one line naming the file.
Lightning's own reads (``Trainer.fit(ckpt_path=...)`` resuming, ``load_from_checkpoint``) come here
too: the CLI gives every trainer :class:`semcolor.cli.checkpoint_io.SafeCheckpointIO`, whose
``load_checkpoint`` is :func:`read_checkpoint` and whose ``save_checkpoint`` is :func:`write_checkpoint`.

Writing is atomic: the bytes go to a hidden temporary file in the checkpoint's own folder, are flushed
to disk, and the file is renamed over the final name (``os.replace``). A process killed at any moment
leaves either the previous checkpoint or the new one under that name, never a half-written file.
Hand-written because Lightning's ``_atomic_save`` is not atomic on local disks: fsspec's transaction
writes the temporary file into the *system* temp folder (``tempfile.mkstemp()``) and ``shutil.move``\\ s
it, which is a copy onto the final name whenever ``/tmp`` is another file system (tmpfs, a node's local
disk under a cluster's shared ``ckpts/``), and a kill leaves the temporary file behind in ``/tmp``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from semcolor.errors import SemcolorError

#: prefix and suffix of the temporary files :func:`write_checkpoint` renames into place
TMP_PREFIX, TMP_SUFFIX = ".", ".partial"


def read_torch_file(path: str | Path, what: str = "checkpoint") -> Any:
    """What ``torch.save`` wrote at ``path`` (tensors on the CPU), read as data only (``weights_only``).

    ``what`` names the file's role in errors (``"checkpoint"``, ``"VGG-19 weights file"``). Raises a
    :class:`SemcolorError` of one line naming the file when it is missing, unreadable, or holds objects
    other than tensors and plain containers (a pickle that would run code is refused without running).
    """
    import pickle

    import torch

    path = Path(path).expanduser()
    if not path.is_file():
        raise SemcolorError(f"{what} not found: '{path}'")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message suggests weights_only=False, i.e. running whatever the file contains: never.
        # The same exception type covers a pickle naming a code object (a class, os.system ...) and bytes
        # that are no pickle at all; torch words the first as "... global ...".
        if "global" in str(exc).lower():
            raise SemcolorError(f"'{path}' is not a readable {what}: it holds objects other than tensors "
                                f"and plain data (refused without loading them)") from exc
        raise SemcolorError(f"'{path}' is not a readable {what}: cannot read it as a file written by "
                            f"torch.save (random bytes or another format)") from exc
    except Exception as exc:  # truncated, not a zip/pickle at all
        raise SemcolorError(f"'{path}' is not a readable {what}: cannot read it "
                            f"({type(exc).__name__})") from exc


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The Lightning checkpoint dict at ``path`` (tensors on the CPU), or a :class:`SemcolorError` saying
    why not (see :func:`read_torch_file`)."""
    ckpt = read_torch_file(path, "checkpoint")
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise SemcolorError(f"'{Path(path).expanduser()}' is not a Lightning checkpoint (no state_dict)")
    return ckpt


def write_checkpoint(obj: Any, path: str | Path) -> Path:
    """``torch.save(obj)`` to ``path`` atomically (temporary file in the same folder, fsync, rename)."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{os.getpid()}-{secrets.token_hex(4)}{TMP_SUFFIX}")
    try:
        with open(tmp, "xb") as f:  # a plain open: the umask's permissions, unlike mkstemp's 0600
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable (POSIX; a no-op failure elsewhere)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
    return path
