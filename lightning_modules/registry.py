"""Method registry: the name a user types (``METHOD=secbnet``) -> its LightningModule class.

Classes are named by import path and imported on first use, so the CLI starts fast and a method's
heavy dependencies load only when that method is asked for. Like timm's and smp's registries, an
unknown name raises an error that lists every available name.
"""

from __future__ import annotations

import importlib

from datamodules.errors import SemcolorError

#: method name -> "module:Class" of its LightningModule
METHODS: dict[str, str] = {
    "unet": "lightning_modules.unet:UNetBaseline",
    "wiconet": "lightning_modules.wiconet:WiCoNetSegmentation", "secbnet": "lightning_modules.secbnet:SECBNet",
    "pix2pix": "lightning_modules.colorization:Pix2Pix", "dcgan": "lightning_modules.colorization:NazeriDCGAN", "jsdcgan": "lightning_modules.colorization:JSDCGAN",
    "s2color": "lightning_modules.s2color:S2Color",
    "slimseg": "lightning_modules.slimseg:SlimSeg",
    "multipath": "lightning_modules.multipath:MultipathModule",
    "stretch_tile": "lightning_modules.stretch_baselines:PerTileStretch",
    "stretch_global": "lightning_modules.stretch_baselines:GlobalStretch",
}


class UnknownNameError(SemcolorError, KeyError):
    """A method or dataset name that is not registered."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


def available_methods() -> list[str]:
    """Registered method names, sorted."""
    return sorted(METHODS)


def _import(target: str) -> type:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def check_method(name: str) -> str:
    """Return ``name`` if it is registered, else raise listing the available methods."""
    if name not in METHODS:
        shown = repr(name) if name else "no METHOD"
        raise UnknownNameError(
            f"unknown method {shown}; available methods: {', '.join(available_methods())}"
        )
    return name


def method_class(name: str) -> type:
    """The LightningModule class registered as ``name``."""
    return _import(METHODS[check_method(name)])


def method_name_of(cls: type) -> str | None:
    """Reverse lookup: the registered name of a LightningModule class (None if unregistered)."""
    target = f"{cls.__module__}:{cls.__qualname__}"
    for name, path in METHODS.items():
        if path == target:
            return name
    return None
