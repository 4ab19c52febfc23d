"""Width sweep of a slimmable network: accuracy, cost and latency per width, as a table and a plot.

SlimSeg's claim (thesis 003 ch. 2, Table 2.2 and Fig. 2.3) is an accuracy-efficiency trade-off chosen
at run time. :class:`WidthSweep` reports it for every width of the model (USER-NEEDS #13-14):

* mIoU per width -- read from the ``{stage}_miou_w{w}`` metrics the method logged (``slimseg`` scores
  every width in validation/test); widths the method did not score are evaluated here on the stage's
  dataloader (on rank 0 only: under DDP that is rank 0's shard);
* GMac ("GFLOPs" of Table 2.2: multiply-accumulates, ptflops convention) and parameters of an independent
  model of that width at ``input_size``, counted with ``semcolor.networks.slimmable.count_macs`` (torch's
  ``FlopCounterMode`` on the meta device) and ``count_params``; the training-only boundary head is left
  out, as in the table;
* latency: median of ``latency_reps`` timed forwards (batch 1, eval mode, no_grad) at ``latency_size``
  on the module's current device (optionally with autocast / channels_last on CUDA).

Written into the run folder (``trainer.default_root_dir``): ``width_sweep_{stage}.md``, ``.csv`` and
``.png`` (mIoU vs GMac, matplotlib's Agg canvas), overwritten each time, plus
``width_sweep_{stage}_history.csv`` with one row per width and epoch. Loggers get
``{stage}_gmac_w{w}``, ``{stage}_params_m_w{w}``, ``{stage}_latency_ms_w{w}`` (and any mIoU computed
here); W&B loggers also get the table and the plot.

It runs at the end of validation (every ``every_n_epochs`` epochs, never in the sanity check) and at the
end of ``test`` -- so ``make eval METHOD=slimseg CKPT=...`` is the standalone sweep of a checkpoint.
:func:`run_width_sweep` does the same from Python without a Trainer.

:class:`BNCalibration` (USER-NEEDS #12) re-estimates every width's BatchNorm statistics: for each width,
reset the running statistics of that width's BNs, then forward ``num_batches`` training batches with
those BNs in *train* mode (the rest in eval mode) under ``no_grad``, with a cumulative average
(``momentum=None``). Run before validation, the calibrated statistics are what validation uses and
what the next checkpoint stores.
"""

from __future__ import annotations

import copy
import csv
import statistics
import time
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_only
from torch import Tensor, nn

__all__ = [
    "WidthSweep",
    "BNCalibration",
    "SweepRow",
    "measure_latency",
    "evaluate_widths",
    "cost_table",
    "write_sweep",
    "run_width_sweep",
    "calibrate_bn",
]

COLUMNS = ("width", "miou", "gmac", "gmac_ratio", "params_m", "latency_ms", "fps")


def _tag(w: float) -> str:
    from semcolor.lightning_modules.slimseg import width_tag

    return width_tag(w)


def _network(module: nn.Module) -> nn.Module:
    """The slimmable network inside a LightningModule (``.network``), or the module itself."""
    return getattr(module, "network", module)


def _widths(net: nn.Module) -> tuple[float, ...]:
    from semcolor.lightning_modules.slimseg import model_widths

    return model_widths(net)


# ---------------------------------------------------------------------------------------------------
# measurements
# ---------------------------------------------------------------------------------------------------

def measure_latency(
    net: nn.Module,
    width: float,
    size: Sequence[int] = (1024, 2048),
    device: torch.device | str | None = None,
    reps: int = 5,
    warmup: int = 1,
    batch: int = 1,
    amp: bool = False,
    channels_last: bool = False,
    in_channels: int = 3,
) -> list[float]:
    """Wall-clock seconds of ``reps`` forwards of ``net`` at ``width`` (after ``warmup`` untimed ones).

    Eval mode and ``no_grad``; CUDA is synchronised around each forward. ``amp`` = fp16 autocast on
    CUDA (bf16 on CPU); ``channels_last`` converts a *copy* of the network and the input. The network's
    mode and width are restored. Take the median of the result.
    """
    from semcolor.networks.slimmable import width_context

    device = torch.device(device) if device is not None else next(net.parameters()).device
    model = net
    if channels_last:
        model = copy.deepcopy(net).to(memory_format=torch.channels_last)
    was_training = model.training
    model.eval()
    x = torch.rand(batch, in_channels, int(size[0]), int(size[1]), device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    cuda = device.type == "cuda"
    if amp:
        autocast: Any = torch.autocast(device.type, dtype=torch.float16 if cuda else torch.bfloat16)
    else:
        autocast = nullcontext()
    times: list[float] = []
    try:
        with width_context(model, width), torch.no_grad(), autocast:
            for i in range(warmup + reps):
                if cuda:
                    torch.cuda.synchronize(device)
                t0 = time.perf_counter()
                model(x)
                if cuda:
                    torch.cuda.synchronize(device)
                if i >= warmup:
                    times.append(time.perf_counter() - t0)
    finally:
        model.train(was_training)
    return times


@torch.no_grad()
def evaluate_widths(
    module: nn.Module,
    batches: Iterable[dict[str, Any]],
    widths: Sequence[float],
    num_classes: int,
    ignore_index: int | None,
    device: torch.device | str | None = None,
) -> dict[float, float]:
    """mIoU (torchmetrics macro Jaccard, ``ignore_index`` left out) of ``module(x)`` at every width."""
    from torchmetrics.classification import MulticlassJaccardIndex

    from semcolor.networks.slimmable import width_context

    net = _network(module)
    device = torch.device(device) if device is not None else next(net.parameters()).device
    metrics = {w: MulticlassJaccardIndex(num_classes, average="macro", ignore_index=ignore_index).to(device)
               for w in widths}
    was_training = module.training
    module.eval()
    try:
        for batch in batches:
            x, seg = batch["input"].to(device), batch["seg"].to(device)
            for w in widths:
                with width_context(net, w):
                    metrics[w].update(module(x).argmax(1), seg)
    finally:
        module.train(was_training)
    return {w: float(m.compute()) for w, m in metrics.items()}


_MAC_CACHE: dict[tuple[int, tuple[int, int], float], float] = {}


def cost_table(
    net: nn.Module, widths: Sequence[float], input_size: Sequence[int], macs: bool = True
) -> dict[float, tuple[float | None, float]]:
    """``{width: (GMac, params in M)}`` at ``input_size``; GMac cached per network object and size.

    ``macs=False`` skips the MAC count (about a second per width on CPU: FlopCounterMode's dispatch
    overhead) and gives ``None``.
    """
    from semcolor.networks.slimmable import count_macs, count_params

    size = (int(input_size[0]), int(input_size[1]))
    out: dict[float, tuple[float | None, float]] = {}
    for w in widths:
        gmac = None
        if macs:
            key = (id(net), size, float(w))
            if key not in _MAC_CACHE:
                _MAC_CACHE[key] = count_macs(net, w, size) / 1e9
            gmac = _MAC_CACHE[key]
        out[w] = (gmac, count_params(net, w) / 1e6)
    return out


# ---------------------------------------------------------------------------------------------------
# table and plot
# ---------------------------------------------------------------------------------------------------

SweepRow = dict[str, float | None]


def build_rows(
    widths: Sequence[float],
    mious: dict[float, float | None],
    costs: dict[float, tuple[float | None, float]],
    latencies: dict[float, float | None],
) -> list[SweepRow]:
    full = costs[max(widths)][0]
    rows = []
    for w in sorted(widths, reverse=True):
        gmac, params = costs[w]
        lat = latencies.get(w)
        rows.append({
            "width": w, "miou": mious.get(w), "gmac": gmac,
            "gmac_ratio": gmac / full if gmac is not None and full else None,
            "params_m": params, "latency_ms": None if lat is None else lat * 1e3,
            "fps": None if not lat else 1.0 / lat,
        })
    return rows


def _fmt(v: float | None, nd: int) -> str:
    return "-" if v is None else f"{v:.{nd}f}"


def markdown_table(rows: list[SweepRow], title: str = "") -> str:
    head = "| width | mIoU (%) | GMac | GMac / x1.0 | params (M) | latency (ms) | FPS |"
    sep = "|---|---|---|---|---|---|---|"
    lines = [f"### {title}", ""] if title else []
    lines += [head, sep]
    for r in rows:
        miou = None if r["miou"] is None else 100 * r["miou"]
        lines.append(
            f"| x{_tag(r['width'])} | {_fmt(miou, 2)} | {_fmt(r['gmac'], 2)} | {_fmt(r['gmac_ratio'], 3)} | "
            f"{_fmt(r['params_m'], 2)} | {_fmt(r['latency_ms'], 1)} | {_fmt(r['fps'], 1)} |"
        )
    return "\n".join(lines) + "\n"


def plot_sweep(rows: list[SweepRow], path: Path, title: str = "") -> bool:
    """mIoU vs GMac, one labelled point per width (Fig. 2.3 style); False when no mIoU is known.

    Without MAC counts the x axis is the width multiplier.
    """
    by_macs = all(r["gmac"] is not None for r in rows)
    pts = [(r["gmac"] if by_macs else r["width"], 100 * r["miou"], r["width"]) for r in rows if r["miou"] is not None]
    if not pts:
        return False
    # a Figure with the Agg canvas directly: no pyplot, no global backend switch
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3.6), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    pts.sort()
    ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-")
    for g, m, w in pts:
        ax.annotate(f"x{_tag(w)}", (g, m), textcoords="offset points", xytext=(4, -10), fontsize=8)
    ax.set_xlabel("GMac" if by_macs else "width multiplier")
    ax.set_ylabel("mIoU (%)")
    ax.grid(True, alpha=0.3)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    return True


def write_sweep(rows: list[SweepRow], folder: str | Path, stage: str, epoch: int | None = None,
                title: str = "") -> dict[str, Path]:
    """Write ``width_sweep_{stage}.md/.csv/.png`` and append to ``width_sweep_{stage}_history.csv``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / f"width_sweep_{stage}"
    paths = {"md": base.with_suffix(".md"), "csv": base.with_suffix(".csv")}
    paths["md"].write_text(markdown_table(rows, title))
    with open(paths["csv"], "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    history = folder / f"width_sweep_{stage}_history.csv"
    new = not history.exists()
    with open(history, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["epoch", *COLUMNS])
        if new:
            writer.writeheader()
        writer.writerows({"epoch": epoch, **r} for r in rows)
    paths["history"] = history
    png = base.with_suffix(".png")
    if plot_sweep(rows, png, title):
        paths["png"] = png
    return paths


def run_width_sweep(
    module: nn.Module,
    folder: str | Path,
    batches: Iterable[dict[str, Any]] | None = None,
    num_classes: int | None = None,
    ignore_index: int | None = None,
    input_size: Sequence[int] = (1024, 2048),
    latency_size: Sequence[int] | None = None,
    latency_reps: int = 5,
    stage: str = "sweep",
    **latency_kwargs: Any,
) -> list[SweepRow]:
    """Standalone sweep (no Trainer): mIoU on ``batches`` (if given), cost, latency; files in ``folder``."""
    net = _network(module)
    widths = _widths(net)
    hp = getattr(module, "hparams", {})
    mious: dict[float, float | None] = {w: None for w in widths}
    if batches is not None:
        nc = num_classes if num_classes is not None else hp["num_classes"]
        ii = ignore_index if ignore_index is not None else hp.get("ignore_index")
        mious.update(evaluate_widths(module, batches, widths, nc, ii))
    costs = cost_table(net, widths, input_size)
    lat: dict[float, float | None] = {}
    if latency_size is not None and latency_reps > 0:
        for w in widths:
            lat[w] = statistics.median(measure_latency(net, w, latency_size, reps=latency_reps, **latency_kwargs))
    rows = build_rows(widths, mious, costs, lat)
    write_sweep(rows, folder, stage, title=f"{type(net).__name__} @ {input_size[0]}x{input_size[1]}")
    return rows


# ---------------------------------------------------------------------------------------------------
# callbacks
# ---------------------------------------------------------------------------------------------------

class WidthSweep(pl.Callback):
    """Per-width mIoU / GMac / params / latency table, CSV and plot after validation and test.

    Args:
        every_n_epochs: run after every n-th validation epoch of ``fit`` (``validate`` / ``test``:
            always).
        input_size: ``(H, W)`` at which GMac are counted (1024x2048: Table 2.2).
        latency_size: ``(H, W)`` of the timed forwards; ``None``: ``input_size``.
        latency_reps, latency_warmup: timed / untimed forwards per width (0 reps: no latency).
        amp, channels_last: latency with autocast / channels_last (CUDA deployment settings).
        evaluate_missing: evaluate here the widths whose ``{stage}_miou_w{w}`` was not logged.
        folder: output folder (``None``: ``trainer.default_root_dir``, the run folder).

    Under ``fast_dev_run`` neither MACs nor latency are measured (they would dominate the smoke run) and
    only the console table is produced.
    """

    def __init__(
        self,
        every_n_epochs: int = 1,
        input_size: Sequence[int] = (1024, 2048),
        latency_size: Sequence[int] | None = None,
        latency_reps: int = 5,
        latency_warmup: int = 1,
        amp: bool = False,
        channels_last: bool = False,
        evaluate_missing: bool = True,
        folder: str | None = None,
    ) -> None:
        if every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be >= 1, got {every_n_epochs}")
        self.every_n_epochs = every_n_epochs
        self.input_size = tuple(int(s) for s in input_size)
        self.latency_size = tuple(int(s) for s in latency_size) if latency_size is not None else self.input_size
        self.latency_reps, self.latency_warmup = latency_reps, latency_warmup
        self.amp, self.channels_last = amp, channels_last
        self.evaluate_missing = evaluate_missing
        self.folder = folder
        self.last_rows: list[SweepRow] = []

    def _due(self, trainer: pl.Trainer) -> bool:
        if trainer.sanity_checking:
            return False
        if trainer.state.fn != "fit":
            return True
        return (trainer.current_epoch + 1) % self.every_n_epochs == 0

    def _mious(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str,
               widths: Sequence[float]) -> tuple[dict[float, float | None], dict[str, float]]:
        mious: dict[float, float | None] = {}
        computed: dict[str, float] = {}
        missing = []
        for w in widths:
            v = trainer.callback_metrics.get(f"{stage}_miou_w{_tag(w)}")
            if v is None:
                missing.append(w)
            mious[w] = None if v is None else float(v)
        if missing and self.evaluate_missing:
            loaders = trainer.val_dataloaders if stage == "val" else trainer.test_dataloaders
            loader = loaders[0] if isinstance(loaders, (list, tuple)) else loaders
            hp = pl_module.hparams
            if loader is not None and "num_classes" in hp:
                limit = trainer.limit_val_batches if stage == "val" else trainer.limit_test_batches
                n = int(limit) if isinstance(limit, int) else None
                batches = (b for i, b in enumerate(loader) if n is None or i < n)
                res = evaluate_widths(pl_module, batches, missing, hp["num_classes"], hp.get("ignore_index"),
                                      pl_module.device)
                for w, v in res.items():
                    mious[w] = v
                    computed[f"{stage}_miou_w{_tag(w)}"] = v
        return mious, computed

    def _run(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        net = _network(pl_module)
        widths = _widths(net)
        mious, computed = self._mious(trainer, pl_module, stage, widths)
        # fast_dev_run (CI smoke): no MAC count and no latency, they would dominate the run
        costs = cost_table(net, widths, self.input_size, macs=not trainer.fast_dev_run)
        lat: dict[float, float | None] = {}
        if self.latency_reps > 0 and not trainer.fast_dev_run:
            for w in widths:
                times = measure_latency(net, w, self.latency_size, pl_module.device, self.latency_reps,
                                        self.latency_warmup, amp=self.amp, channels_last=self.channels_last)
                lat[w] = statistics.median(times)
        rows = build_rows(widths, mious, costs, lat)
        self.last_rows = rows
        folder = Path(self.folder or trainer.default_root_dir)
        epoch = trainer.current_epoch if stage == "val" else None
        title = (f"{stage} epoch {trainer.current_epoch}" if stage == "val" else stage) + (
            f" | GMac @ {self.input_size[0]}x{self.input_size[1]}, latency @ "
            f"{self.latency_size[0]}x{self.latency_size[1]} on {pl_module.device.type}")
        # fast_dev_run writes nothing into the run folder (the CLI does not create one for it)
        paths = {} if trainer.fast_dev_run else write_sweep(rows, folder, stage, epoch, title)
        self._print(rows, title)
        self._log(trainer, stage, rows, computed, paths)

    @staticmethod
    def _print(rows: list[SweepRow], title: str) -> None:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"width sweep: {title}")
        for col in ("width", "mIoU (%)", "GMac", "GMac / x1.0", "params (M)", "latency (ms)", "FPS"):
            table.add_column(col, justify="right")
        for r in rows:
            miou = None if r["miou"] is None else 100 * r["miou"]
            table.add_row(f"x{_tag(r['width'])}", _fmt(miou, 2), _fmt(r["gmac"], 2), _fmt(r["gmac_ratio"], 3),
                          _fmt(r["params_m"], 2), _fmt(r["latency_ms"], 1), _fmt(r["fps"], 1))
        Console().print(table)

    @staticmethod
    def _log(trainer: pl.Trainer, stage: str, rows: list[SweepRow], computed: dict[str, float],
             paths: dict[str, Path]) -> None:
        if not trainer.loggers:
            return
        metrics = dict(computed)
        for r in rows:
            t = _tag(r["width"])  # type: ignore[arg-type]
            if r["gmac"] is not None:
                metrics[f"{stage}_gmac_w{t}"] = r["gmac"]
            metrics[f"{stage}_params_m_w{t}"] = r["params_m"]  # type: ignore[assignment]
            if r["latency_ms"] is not None:
                metrics[f"{stage}_latency_ms_w{t}"] = r["latency_ms"]
        from pytorch_lightning.loggers import WandbLogger

        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)
            if isinstance(logger, WandbLogger):
                data = [[r[c] for c in COLUMNS] for r in rows]
                logger.log_table(key=f"{stage}_width_sweep", columns=list(COLUMNS), data=data,
                                 step=trainer.global_step)
                if "png" in paths:
                    logger.log_image(key=f"{stage}_width_sweep_plot", images=[str(paths["png"])],
                                     step=trainer.global_step)

    @rank_zero_only
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._due(trainer):
            self._run(trainer, pl_module, "val")

    @rank_zero_only
    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._run(trainer, pl_module, "test")


def calibrate_bn(
    module: nn.Module,
    batches: Iterable[dict[str, Any]] | Iterable[Tensor],
    widths: Sequence[float] | None = None,
    num_batches: int = 50,
    device: torch.device | str | None = None,
) -> None:
    """Re-estimate every width's switchable-BN statistics from ``num_batches`` batches (USER-NEEDS #12).

    Per width: reset that width's BN running statistics, set ``momentum=None`` (exact cumulative average),
    forward the batches under ``no_grad`` with those BNs in train mode and everything else in eval mode
    (dropout off, so the result is deterministic; the training-only boundary head is not run), restore
    the momentum. Idempotent for the same batches; the model's mode and width are restored.
    ``batches`` is re-iterated for every width (a list, or a DataLoader).
    """
    from semcolor.networks.slimmable import SwitchableBatchNorm2d, width_context

    net = _network(module)
    widths = _widths(net) if widths is None else tuple(widths)
    device = torch.device(device) if device is not None else next(net.parameters()).device
    was_training = module.training
    try:
        for w in widths:
            with width_context(net, w):
                bns = [m.active for m in net.modules() if isinstance(m, SwitchableBatchNorm2d)]
                momenta = [bn.momentum for bn in bns]
                module.eval()  # dropout off (deterministic, idempotent); only this width's BNs train
                for bn in bns:
                    bn.reset_running_stats()
                    bn.momentum = None
                    bn.train()
                try:
                    with torch.no_grad():
                        for i, batch in enumerate(batches):
                            if i >= num_batches:
                                break
                            x = batch["input"] if isinstance(batch, dict) else batch
                            net(x.to(device))
                finally:
                    for bn, m in zip(bns, momenta):
                        bn.momentum = m
    finally:
        module.train(was_training)


class BNCalibration(pl.Callback):
    """Calibrate every width's BatchNorm statistics on training batches (see :func:`calibrate_bn`).

    Args:
        num_batches: training batches forwarded per width.
        every_n_epochs: in ``fit``, calibrate before every n-th validation (validation then uses, and
            the next checkpoint stores, the calibrated statistics).
        on_test: also calibrate before ``test`` (needs the datamodule's training split).

    Under DDP every process calibrates on its own batches; the checkpoint keeps rank 0's statistics.
    """

    def __init__(self, num_batches: int = 50, every_n_epochs: int = 1, on_test: bool = False) -> None:
        self.num_batches, self.every_n_epochs, self.on_test = num_batches, every_n_epochs, on_test

    def _loader(self, trainer: pl.Trainer) -> Any:
        dm = trainer.datamodule
        if dm is not None and hasattr(dm, "train_dataloader"):
            return dm.train_dataloader()  # a fresh loader: never disturb the running training iterator
        return trainer.train_dataloader

    def _calibrate(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        loader = self._loader(trainer)
        if loader is None:
            return
        calibrate_bn(pl_module, loader, num_batches=self.num_batches, device=pl_module.device)

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        if (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self._calibrate(trainer, pl_module)

    def on_test_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.on_test:
            self._calibrate(trainer, pl_module)
