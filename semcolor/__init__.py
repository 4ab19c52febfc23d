"""semcolor: semantics-aware colour processing of images, as PyTorch Lightning experiments.

One installed package; each of its sub-packages is a top-level folder of the repository (see
``pyproject.toml``'s ``package-dir``), listed here from the bottom layer up. A package imports only
from the packages above it in this list, never from one below:

* ``semcolor`` (``semcolor/``): errors, the method / dataset registries, paths, checkpoint loading,
  run-folder files, the CPU allocator setting
* ``semcolor.colorspace`` (``colorspace/``): differentiable colour conversions
* ``semcolor.networks`` (``networks/``): pure ``nn.Module`` architectures, blocks and losses
* ``semcolor.metrics`` (``metrics/``): torchmetrics metrics over plain functions
* ``semcolor.datamodules`` (``datamodules/``): datasets in their released layouts, DataModules
* ``semcolor.scenes`` (``scenes/``): whole-scene inference: windows, blending, GeoTIFF writing, seams
* ``semcolor.lightning_modules`` (``lightning_modules/``): one LightningModule per method, their bases
* ``semcolor.widths`` (``widths/``): width sweeps, BN calibration and export of slimmable networks
* ``semcolor.cli`` (``cli/``): the ``semcolor`` command, run folders, callbacks, results tables

Nothing here is imported eagerly: ``import semcolor`` is cheap.
"""

__version__ = "0.2.0"
