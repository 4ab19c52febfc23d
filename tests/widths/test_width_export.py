"""Static per-width sub-networks of slimmable networks: exact, Table 2.2-sized, exported and re-loaded."""

import pytest
import pytorch_lightning as pl
import torch

from semcolor.errors import SemcolorError
from semcolor.lightning_modules.slimseg import model_widths
from semcolor.networks.slimmable import build_slimmable, count_params, set_width
from semcolor.networks.slimmable.export import (
    export_subnet,
    load_exported,
    static_subnet,
)
from semcolor.networks.slimmable.ops import SlimmableModule
from semcolor.widths.export import main


@pytest.mark.parametrize("name", ["sfnet_r18", "deeplabv3plus_mbv2", "sfnet_dfnetv1", "sfnet_dfnetv2"])
def test_static_subnet_equals_the_slimmable_network_at_each_width(name):
    torch.manual_seed(0)
    net = build_slimmable(name, num_classes=5, widths=(0.35, 0.5, 1.0) if "mbv2" in name else (0.25, 0.5, 1.0))
    net.eval()
    x = torch.rand(1, 3, 64, 96)
    sizes = []
    for w in model_widths(net):
        set_width(net, w)
        sub = static_subnet(net, w)
        assert not any(isinstance(m, SlimmableModule) for m in sub.modules())
        with torch.no_grad():
            torch.testing.assert_close(sub(x), net(x, return_boundary=False), rtol=0, atol=1e-5)
        n = sum(p.numel() for p in sub.parameters())
        assert n == count_params(net, w)  # Table 2.2's convention: the boundary head is not deployed
        sizes.append(n)
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1] / 4
    assert net.boundary_head is not None  # the original is untouched


@pytest.mark.parametrize("fmt", ["torchscript", "export"])
def test_exported_file_reloads_and_matches(tmp_path, fmt):
    torch.manual_seed(0)
    net = build_slimmable("sfnet_r18", num_classes=3, widths=(0.25, 1.0)).eval()
    x = torch.rand(1, 3, 64, 64)
    path = export_subnet(net, 0.25, x, tmp_path / f"net{'.pt' if fmt == 'torchscript' else '.pt2'}", fmt)
    set_width(net, 0.25)
    with torch.no_grad():
        torch.testing.assert_close(load_exported(path)(x), net(x, return_boundary=False), rtol=0, atol=1e-5)


def test_command_exports_every_width_of_a_checkpoint_and_keeps_files(tmp_path, capsys):
    from semcolor.lightning_modules.slimseg import SlimSegModule

    torch.manual_seed(0)
    module = SlimSegModule(num_classes=4, ignore_index=0, arch="sfnet_r18", widths=[0.25, 1.0])
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=str(tmp_path))
    trainer.strategy.connect(module)
    ckpt = tmp_path / "slim.ckpt"
    trainer.save_checkpoint(ckpt)
    args = [str(ckpt), "--size", "64", "64", "--formats", "torchscript"]
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "| 0.25 | torchscript |" in table and "| 1 | torchscript |" in table
    files = sorted(p.name for p in (tmp_path / "exported").iterdir())
    assert files == ["slim_w0.25.pt", "slim_w1.pt"]
    stamp = (tmp_path / "exported" / "slim_w1.pt").stat().st_mtime_ns
    assert main(args) == 2 and "exists" in capsys.readouterr().err
    assert (tmp_path / "exported" / "slim_w1.pt").stat().st_mtime_ns == stamp
    assert main([str(ckpt), "--widths", "0.3"]) == 2 and "trained widths" in capsys.readouterr().err
    assert main([str(tmp_path / "none.ckpt")]) == 2
    from semcolor.lightning_modules.unet import UNetModule

    other = UNetModule(decoder_channels=(16, 16, 8, 8, 8))
    trainer.strategy.connect(other)
    trainer.save_checkpoint(tmp_path / "unet.ckpt")
    assert main([str(tmp_path / "unet.ckpt")]) == 2 and "not a slimseg checkpoint" in capsys.readouterr().err
    with pytest.raises(SemcolorError):
        from semcolor.widths.export import export_widths

        export_widths(module, tmp_path / "x", "s", [1.0], (32, 32), ["onnx"])


@pytest.mark.parametrize("arch", ["sfnet_dfnetv1", pytest.param("sfnet_dfnetv2", marks=pytest.mark.slow)])
def test_command_exports_a_dfnet_checkpoint(tmp_path, capsys, arch):
    """``make export-widths`` on an SFNet-DFNet checkpoint: one file per trained width, each reloaded and
    compared with the slimmable network (the command fails above 1e-5)."""
    from semcolor.lightning_modules.slimseg import SlimSegModule

    torch.manual_seed(0)
    module = SlimSegModule(num_classes=4, ignore_index=0, arch=arch, widths=[0.25, 1.0])
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=str(tmp_path))
    trainer.strategy.connect(module)
    trainer.save_checkpoint(tmp_path / "df.ckpt")
    assert main([str(tmp_path / "df.ckpt"), "--size", "64", "64", "--formats", "export"]) == 0
    assert "| 0.25 | export |" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "exported").iterdir()) == ["df_w0.25.pt2", "df_w1.pt2"]
