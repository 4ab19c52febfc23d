"""Dataset registry: the name a user types (``DATA=gid``) -> its DataModule class.

Same shape as the method registry (``lightning_modules.registry``): import paths resolved lazily,
and an unknown name lists the available ones.
"""

from __future__ import annotations

import importlib

#: dataset name -> "module:Class" of its DataModule
DATAMODULES: dict[str, str] = {
    "embedded": "datamodules.embedded:EmbeddedDataModule",
    "zhcbi": "datamodules.zhcbi:ZHCBIDataModule",
    "gid": "datamodules.gid:GIDDataModule",
    "aid": "datamodules.aid:AIDDataModule",
    "nwpu": "datamodules.nwpu:NWPUDataModule",
    "cityscapes": "datamodules.cityscapes:CityscapesDataModule",
    "gta5": "datamodules.gta5:GTA5DataModule",
    "sentinel2": "datamodules.sentinel2:Sentinel2DataModule",
}


def available_datasets() -> list[str]:
    return sorted(DATAMODULES)


def datamodule_class(name: str) -> type:
    from lightning_modules.registry import UnknownNameError

    if name not in DATAMODULES:
        raise UnknownNameError(
            f"unknown dataset {name!r}; available datasets: {', '.join(available_datasets())}"
        )
    module, _, attr = DATAMODULES[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def dataset_name_of(cls: type) -> str | None:
    target = f"{cls.__module__}:{cls.__qualname__}"
    for name, path in DATAMODULES.items():
        if path == target:
            return name
    return None
