"""User-facing errors, project-wide: bad files, layouts, names and options.

Every error names the file or folder at fault and what was expected, so the CLI can print it as one
line (see ``semcolor.cli.main``) instead of a traceback. All of them derive from
:class:`SemcolorError`, the one class the CLI catches.
"""

from __future__ import annotations

from pathlib import Path


class SemcolorError(Exception):
    """Base class of errors caused by user input (files, configs, names), printed as one line."""


class DatasetNotFoundError(SemcolorError, FileNotFoundError):
    """A dataset root is missing or does not have the released layout.

    Args:
        dataset: dataset name, e.g. ``"GID"``.
        root: the folder the user pointed at.
        expected: the layout that was looked for, e.g. ``"{root}/images/*.png"``.
        detail: what exactly was missing.
    """

    def __init__(self, dataset: str, root: str | Path, expected: str, detail: str = "") -> None:
        self.dataset, self.root, self.expected = dataset, str(root), expected
        msg = f"{dataset}: no dataset found at '{root}'; expected the released layout {expected}"
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)


class DatasetLayoutError(SemcolorError, ValueError):
    """Files exist but do not fit together (unmatched triplets, wrong sizes, wrong band counts...)."""


class CorruptFileError(SemcolorError, ValueError):
    """A file could not be decoded (truncated image, not a raster, NaN values...)."""

    def __init__(self, path: str | Path, expected: str, cause: object = "") -> None:
        self.path = str(path)
        msg = f"cannot read '{path}': expected {expected}"
        if cause:
            msg += f" ({cause})"
        super().__init__(msg)


class UnknownNameError(SemcolorError, KeyError):
    """A method, dataset or config name that does not exist (the message lists those that do)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])
