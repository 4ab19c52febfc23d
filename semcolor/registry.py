"""The registries: the name a user types (``METHOD=secbnet``, ``DATA=gid``) -> its class.

As in timm (``@register_model``), a class registers itself where it is defined::

    @METHODS.register("unet", tasks=("balance", "colorize"))
    class UNetModule(ImageToImageModule): ...

Each registry knows the package that holds its classes and imports all of its modules the first time
a name is looked up that is not registered yet, so starting a run imports only what it runs, while a
listing (``available()``, an unknown-name error) sees every class. An unknown name raises an error that
lists every available name, as timm's and smp's registries do.

Classes renamed or moved since a checkpoint was written keep loading through
:data:`LEGACY_CLASS_PATHS` (the class paths stored in old checkpoints' ``hyper_parameters``) and
:data:`LEGACY_HPARAMS` (init arguments renamed since).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from semcolor.errors import UnknownNameError

T = TypeVar("T", bound=type)

#: what a method is for; the leaderboard compares the methods of one task
TASKS = ("balance", "colorize", "render16", "segment", "recolor", "harmonize", "super_resolve")


@dataclass(frozen=True)
class Entry:
    """One registered class and what the registry knows about it."""

    name: str
    cls: type
    tasks: tuple[str, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def trainable(self) -> bool:
        """False for training-free methods (registered with ``trainable=False``): nothing to ``fit``."""
        return bool(self.info.get("trainable", True))

    @property
    def class_path(self) -> str:
        return f"{self.cls.__module__}.{self.cls.__qualname__}"


class Registry:
    """Name -> class for one kind of thing (methods, datasets), filled by :meth:`register`.

    Args:
        kind: what is registered, for messages ("method", "dataset").
        package: the package whose modules define the classes (imported on a miss).
    """

    def __init__(self, kind: str, package: str) -> None:
        self.kind, self.package = kind, package
        self._entries: dict[str, Entry] = {}
        self._loaded = False

    def register(self, name: str, *, tasks: Iterable[str] = (), **info: Any) -> Callable[[T], T]:
        """Class decorator: register the class as ``name`` (for ``tasks``, with free-form ``info``)."""
        tasks = tuple(tasks)
        unknown = set(tasks) - set(TASKS)
        if unknown:
            raise ValueError(f"unknown task(s) {sorted(unknown)} for {self.kind} {name!r}; tasks: {TASKS}")

        def decorate(cls: T) -> T:
            old = self._entries.get(name)
            if old is not None and old.class_path != f"{cls.__module__}.{cls.__qualname__}":
                raise ValueError(f"{self.kind} {name!r} registered twice: {old.class_path} and {cls.__qualname__}")
            self._entries[name] = Entry(name, cls, tasks, dict(info))
            cls.registry_name = name  # type: ignore[attr-defined]
            return cls

        return decorate

    def load_all(self) -> None:
        """Import every module of :attr:`package` (registering every class), once."""
        if self._loaded:
            return
        package = importlib.import_module(self.package)
        for module in pkgutil.iter_modules(package.__path__):
            if not module.name.startswith("_"):
                importlib.import_module(f"{self.package}.{module.name}")
        self._loaded = True

    def entries(self) -> list[Entry]:
        """Every registered entry, sorted by name."""
        self.load_all()
        return [self._entries[n] for n in sorted(self._entries)]

    def available(self, task: str | None = None) -> list[str]:
        """Registered names, sorted (only those for ``task`` when given)."""
        return [e.name for e in self.entries() if task is None or task in e.tasks]

    def check(self, name: str) -> str:
        """``name`` if registered, else an :class:`UnknownNameError` listing what is."""
        self.entry(name)
        return name

    def entry(self, name: str) -> Entry:
        if name not in self._entries:
            self.load_all()
        if name not in self._entries:
            shown = repr(name) if name else f"no {self.kind.upper()}"
            raise UnknownNameError(f"unknown {self.kind} {shown}; available {self.kind}s: {', '.join(self.available())}")
        return self._entries[name]

    def get(self, name: str) -> type:
        """The class registered as ``name``."""
        return self.entry(name).cls

    def name_of(self, cls: type) -> str | None:
        """Reverse lookup: the registered name of ``cls`` (None if it is not registered itself)."""
        name = cls.__dict__.get("registry_name")
        entry = self._entries.get(name) if name else None
        return name if entry is not None and entry.cls is cls else None


#: every method: LightningModules of ``semcolor.lightning_modules``
METHODS = Registry("method", "semcolor.lightning_modules")
#: every dataset: DataModules of ``semcolor.datamodules``
DATASETS = Registry("dataset", "semcolor.datamodules")

#: class paths written into checkpoints (``hyper_parameters._class_path``) by earlier versions -> method name
LEGACY_CLASS_PATHS: dict[str, str] = {
    "lightning_modules.unet.UNetBaseline": "unet",
    "lightning_modules.wiconet.WiCoNetSegmentation": "wiconet",
    "lightning_modules.secbnet.SECBNet": "secbnet",
    "lightning_modules.colorization.Pix2Pix": "pix2pix",
    "lightning_modules.colorization.NazeriDCGAN": "dcgan",
    "lightning_modules.colorization.JSDCGAN": "jsdcgan",
    "lightning_modules.s2color.S2Color": "s2color",
    "lightning_modules.slimseg.SlimSeg": "slimseg",
    "lightning_modules.multipath.MultipathModule": "multipath",
    "lightning_modules.stretch_baselines.PerTileStretch": "stretch_tile",
    "lightning_modules.stretch_baselines.GlobalStretch": "stretch_global",
}

#: init arguments renamed since earlier checkpoints were written: old name -> new name
LEGACY_HPARAMS: dict[str, str] = {"in_chans": "in_channels", "colour_size": "color_size", "colour_scale": "color_scale"}


def current_class_path(saved: str) -> str:
    """The class path to build for a class path stored in a checkpoint (old paths -> today's)."""
    if saved in LEGACY_CLASS_PATHS:
        return METHODS.entry(LEGACY_CLASS_PATHS[saved]).class_path
    return saved


def current_hparams(hparams: dict[str, Any]) -> dict[str, Any]:
    """Checkpoint hyper-parameters as today's classes take them: renamed arguments under their current
    names, an old ``_class_path`` replaced by the class's current path."""
    out = {LEGACY_HPARAMS.get(k, k): v for k, v in hparams.items()}
    if isinstance(out.get("_class_path"), str):
        out["_class_path"] = current_class_path(out["_class_path"])
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m semcolor.registry`` for the Makefile: ``methods [--task T]``, ``datasets``,
    ``needs-checkpoint METHOD`` (exit 0 when METHOD is trained, 1 when it is training-free)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m semcolor.registry", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("methods").add_argument("--task", default=None, choices=TASKS)
    sub.add_parser("datasets")
    sub.add_parser("needs-checkpoint").add_argument("method")
    args = parser.parse_args(argv)
    # run as __main__, this file is a second module object: the classes register in semcolor.registry
    from semcolor import registry

    try:
        if args.command == "methods":
            print(" ".join(registry.METHODS.available(args.task)))
        elif args.command == "datasets":
            print(" ".join(registry.DATASETS.available()))
        else:
            return 0 if registry.METHODS.entry(args.method).trainable else 1
    except UnknownNameError as exc:
        print(f"semcolor: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
