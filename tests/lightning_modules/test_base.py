"""ImageToImageModule: nodata pixels (batch["valid"]) are scored as perfect, for the model and identity."""

import warnings

import torch
from torch import nn

from semcolor.lightning_modules.base import ImageToImageModule, score_valid_only


class Inverting(ImageToImageModule):
    """Returns 1 - input: wrong everywhere the target equals the input."""

    def configure_models(self) -> None:
        self.network = nn.Identity()

    def forward(self, x):  # type: ignore[override]
        return 1 - x


def _scores(batch: dict) -> tuple[float, float]:
    m = Inverting(train_metrics=False)
    with warnings.catch_warnings():  # self.log without a Trainer only warns
        warnings.simplefilter("ignore")
        m._evaluate(batch, "val")
    return float(m.val_metrics.compute()["val_psnr"]), float(m.val_identity.compute()["val_identity_psnr"])


def test_nodata_pixels_score_as_perfect_for_model_and_identity():
    y = torch.rand(2, 3, 16, 16) * 0.8 + 0.1
    x = y.clone()
    x[:, :, :, :8] = 1 - y[:, :, :, :8]  # the model (1 - x) is right only on the left half
    valid = torch.zeros(2, 16, 16, dtype=torch.bool)
    valid[:, :, :8] = True
    model, identity = _scores({"input": x, "target": y, "valid": valid})
    assert model > 100 and identity < 30  # left half: the model is exact, the input is not
    model, identity = _scores({"input": x, "target": y, "valid": ~valid})
    assert identity > 100 and model < 30  # right half: the input is exact, the model is not
    model, identity = _scores({"input": x, "target": y})
    assert model < 30 and identity < 30  # no mask: every pixel counts


def test_score_valid_only_without_mask_is_a_no_op():
    out = torch.rand(1, 3, 4, 4)
    assert score_valid_only(out, {"input": out, "target": out * 0}) is out
