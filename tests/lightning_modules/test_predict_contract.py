"""Every registered method declares its whole-scene contract, and the declaration is true: a window
of the declared size and band count goes through ``predict_step``."""

from __future__ import annotations

import warnings

import pytest
import torch

from semcolor.registry import METHODS
from semcolor.scenes.contract import PredictContract

#: methods whose network needs a fixed input size other than their tile (none today)
SIZES: dict[str, int] = {}


@pytest.fixture(scope="module")
def models():
    built = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random weights instead of pretrained ones
        for name in METHODS.available():
            built[name] = METHODS.get(name)().eval()
    built["stretch_global"].fitted.fill_(True)  # its percentiles come from `fit`; the defaults are 0..1
    for model in built.values():  # classical balancing: the reference comes from the data (or a file)
        if hasattr(model, "reference_sample"):
            model.reference_sample = torch.rand(1024, 3)
    return built


@pytest.mark.parametrize("name", METHODS.available())
def test_method_declares_a_valid_contract(models, name):
    contract = models[name].predict_contract()
    assert isinstance(contract, PredictContract)
    assert contract.in_channels is not None, f"{name} must say how many bands it takes"


@pytest.mark.parametrize("name", METHODS.available())
def test_declared_window_goes_through_predict(models, name):
    model, contract = models[name], models[name].predict_contract()
    side = SIZES.get(name, min(contract.tile, 256))
    x = torch.rand(1, contract.in_channels, side, side)
    if contract.input_scaling is not None:  # the model sees (DN - offset) / scale of 16-bit data
        offset, scale = contract.input_scaling
        x = (x * 4000 + 500 - offset) / scale
    with torch.no_grad():
        out = model.predict_step({"input": x}, 0)
    scale = getattr(model, "output_scale", 1)  # super-resolution methods (burstsr) enlarge the window
    assert out.shape[-2:] == (side * scale, side * scale), name


def test_wrong_band_count_is_refused_through_the_contract(tmp_path):
    """The scene DataModule checks the band count against the contract (WiCoNet's argument used to be
    ``in_chans``, which the old attribute lookup missed)."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    from semcolor.errors import DatasetLayoutError
    from semcolor.scenes.datamodule import SceneDataModule

    path = tmp_path / "two_bands.tif"
    with rasterio.open(path, "w", driver="GTiff", width=64, height=64, count=2, dtype="uint8",
                       crs="EPSG:32650", transform=from_origin(0, 0, 1, 1)) as dst:
        dst.write(np.zeros((2, 64, 64), np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = METHODS.get("wiconet")(num_classes=3, dim=32, depth=1, heads=2, mlp_dim=32, pretrained=False)
    with pytest.raises(DatasetLayoutError, match="takes 3"):
        SceneDataModule(input=str(path)).configure_for(model)
