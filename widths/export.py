"""``make export-widths CKPT=...``: a slimseg checkpoint -> one static network file per width, verified.

For every width (default: all the network was trained for) it writes ``<stem>_w<width>.pt``
(TorchScript) and/or ``.pt2`` (``torch.export``) with :func:`semcolor.networks.slimmable.export.export_subnet`,
loads the file back, and compares its logits with the slimmable network's at that width on a random
input of the deployment size: the maximum absolute difference must stay within ``--tolerance``
(1e-5), else the command fails. It prints, per width, parameters, GMac and that difference. Existing
files are never replaced unless ``--overwrite``.

    python -m semcolor.widths.export CKPT [--widths 0.25 1.0] [--size 512 1024]
        [--formats torchscript export] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from semcolor.errors import SemcolorError


def _tag(width: float) -> str:
    return f"w{width:g}"


def export_widths(module: torch.nn.Module, out: Path, stem: str, widths: list[float], size: tuple[int, int],
                  formats: list[str], tolerance: float = 1e-5, overwrite: bool = False) -> list[dict]:
    """Export ``module.network`` (a slimmable network) at ``widths`` into ``out``; return one row per file."""
    from semcolor.networks.slimmable.export import SUFFIX, export_subnet, load_exported
    from semcolor.networks.slimmable.ops import count_macs, count_params, set_width

    net = getattr(module, "network", module).eval()
    unknown = [f for f in formats if f not in SUFFIX]
    if unknown:
        raise SemcolorError(f"unknown export format(s) {unknown}; choose from {sorted(SUFFIX)}")
    paths = {(w, f): out / f"{stem}_{_tag(w)}{SUFFIX[f]}" for w in widths for f in formats}
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not overwrite:
        raise SemcolorError(f"{existing[0]} exists; pass --overwrite to replace the exported files")
    out.mkdir(parents=True, exist_ok=True)
    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(0))
    rows = []
    for w in widths:
        set_width(net, w)
        with torch.no_grad():
            ref = net(x, return_boundary=False)
        params = count_params(net, w)
        gmac = count_macs(net, w, size) / 1e9
        for f in formats:
            path = export_subnet(net, w, x, paths[(w, f)], f)  # type: ignore[arg-type]
            with torch.no_grad():
                diff = float((load_exported(path)(x) - ref).abs().max())
            rows.append({"width": w, "format": f, "path": str(path), "params": params, "gmac": gmac,
                         "max_abs_diff": diff})
            if not diff <= tolerance:
                raise SemcolorError(f"{path}: exported logits differ from the slimmable network's by {diff:.3g} "
                                    f"(tolerance {tolerance:g})")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m semcolor.widths.export", description=__doc__.split("\n")[0])
    ap.add_argument("ckpt", type=Path, help="a slimseg checkpoint (.ckpt)")
    ap.add_argument("--widths", type=float, nargs="+", help="widths to export (default: every trained width)")
    ap.add_argument("--size", type=int, nargs=2, default=(512, 1024), metavar=("H", "W"),
                    help="deployment input size the networks are traced at (default 512 1024)")
    ap.add_argument("--formats", nargs="+", default=["torchscript", "export"])
    ap.add_argument("--out", type=Path, help="folder (default: exported/ next to the checkpoint)")
    ap.add_argument("--tolerance", type=float, default=1e-5)
    ap.add_argument("--overwrite", action="store_true")
    a = ap.parse_args(argv)
    try:
        if not a.ckpt.is_file():
            raise SemcolorError(f"checkpoint '{a.ckpt}' does not exist")
        from semcolor.lightning_modules.slimseg import SlimSegModule, model_widths

        try:
            module = SlimSegModule.load_from_checkpoint(str(a.ckpt), map_location="cpu")
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise SemcolorError(f"'{a.ckpt}' is not a slimseg checkpoint ({type(err).__name__}: {err})") from None
        trained = model_widths(module.network)
        widths = a.widths or list(trained)
        bad = [w for w in widths if w not in trained]
        if bad:
            raise SemcolorError(f"width(s) {bad} are not among the trained widths {list(trained)}")
        out = a.out or a.ckpt.parent / "exported"
        rows = export_widths(module, out, a.ckpt.stem, widths, tuple(a.size), a.formats, a.tolerance, a.overwrite)
    except SemcolorError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"| width | format | params (M) | GMac at {a.size[0]}x{a.size[1]} | max abs diff to the slimmable net | file |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['width']:g} | {r['format']} | {r['params'] / 1e6:.3f} | {r['gmac']:.2f} | {r['max_abs_diff']:.2g} "
              f"| {r['path']} |")
    return 0


__all__ = ["export_widths", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
