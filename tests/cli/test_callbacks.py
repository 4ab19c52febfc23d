"""The callbacks every run gets: the labelled sample grid (cli/callbacks.py)."""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader

from semcolor.cli.callbacks import SampleGrid, labelled_grid, panel_names
from semcolor.lightning_modules.base import ImageToImageModule


def test_panel_names_from_a_dict_or_by_position():
    a, b = torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2)
    assert panel_names({"x": a, "y": b}) == (["x", "y"], [a, b])
    assert panel_names([a, b, a, b])[0] == ["input", "output", "target", "panel 4"]


def test_small_tiles_are_enlarged_by_nearest_neighbour_under_a_named_header():
    torch.manual_seed(0)
    panels = [torch.rand(8, 3, 64, 64) for _ in range(3)]
    image = labelled_grid(["input", "output", "target"], panels, min_side=192, padding=4)
    assert image.size == (3 * 192 + 4 * 4, 28 + 8 * 192 + 9 * 4)  # 3x enlarged, 8 rows, header row
    px = np.asarray(image)
    header, body = px[:28], px[28:]
    for col in range(3):  # each column is named: dark text pixels in its part of the header
        assert (header[:, 4 + col * 196 : 4 + col * 196 + 192] < 128).any()
    # row 2, column 1 (output): every source pixel is a 3x3 block of the same colour
    tile = body[4 + 2 * 196 : 4 + 2 * 196 + 192, 4 + 196 : 4 + 196 + 192].astype(float)
    expected = (panels[1][2].permute(1, 2, 0).numpy() * 255).round()
    assert np.abs(tile[::3, ::3] - expected).max() <= 0.5
    assert np.array_equal(tile[0::3, 0::3], tile[2::3, 2::3])
    big = labelled_grid(["a"], [torch.rand(1, 3, 256, 200)], min_side=192)
    assert big.size == (200 + 8, 28 + 256 + 8)  # large tiles keep their size


class Shift(ImageToImageModule):
    def configure_models(self) -> None:
        self.network = nn.Conv2d(3, 3, 1)


def test_grid_collects_rows_over_batches_and_saves_png(tmp_path):
    data = [{"input": torch.rand(3, 32, 32), "target": torch.rand(3, 32, 32)} for _ in range(5)]
    grid = SampleGrid(tmp_path, max_samples=4)
    trainer = pl.Trainer(accelerator="cpu", max_epochs=1, limit_train_batches=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, callbacks=[grid])
    trainer.fit(Shift(), DataLoader(data, batch_size=2), DataLoader(data, batch_size=2))
    with Image.open(tmp_path / "epoch_000.png") as png:
        assert png.size == (3 * 192 + 4 * 4, 28 + 4 * 192 + 5 * 4)  # 4 of the 5 samples, from 2 batches
    trainer.test(trainer.lightning_module, DataLoader(data, batch_size=5))
    with Image.open(tmp_path / "test.png") as png:
        assert png.size[1] == 28 + 4 * 192 + 5 * 4
