"""Quiet runs: the library notices that every run printed and that say nothing about the run, silenced
one by one at their source (the exact logger or module and text), so that every other warning still shows.

* Lightning's "Tip: ... install litlogger" (an ``INFO`` record of ``pytorch_lightning.utilities.rank_zero``,
  emitted whenever no LitLogger is configured) and its "Trainer already configured with model summary
  callbacks" (our :class:`ModelSummary` replaces the default one): a filter on that logger.
* torch's ``FutureWarning`` "``isinstance(treespec, LeafSpec)`` is deprecated", raised by Lightning's own
  ``pytorch_lightning/utilities/_pytree.py`` on every fit (Lightning 2.6 with torch >= 2.9): ignored for
  that module only.
* wandb's "The anonymous setting has no effect": Lightning's ``WandbLogger`` always passes
  ``anonymous=None`` to ``wandb.init``, and wandb warns whenever the setting is given; :class:`WandbLogger`
  leaves it out when it is None.
* "Total FLOPs: 0" and a FLOPs column of zeros in Lightning's model summary, which counts FLOPs only for
  modules with an ``example_input_array`` (none of ours): :class:`ModelSummary` leaves both out when
  nothing was counted.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

from pytorch_lightning.callbacks import RichModelSummary
from pytorch_lightning.loggers import WandbLogger as _LightningWandbLogger

#: beginnings of Lightning's INFO records that carry no information about the run
LIGHTNING_NOTICES = (
    "💡 Tip: For seamless cloud logging",
    "Trainer already configured with model summary callbacks",
)


class _DropNotices(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(LIGHTNING_NOTICES)


def silence_library_notices() -> None:
    """Install the filters of this module's docstring (idempotent)."""
    log = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    if not any(isinstance(f, _DropNotices) for f in log.filters):
        log.addFilter(_DropNotices())
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                            category=FutureWarning, module=r"pytorch_lightning\.utilities\._pytree")


class WandbLogger(_LightningWandbLogger):
    """Lightning's ``WandbLogger``, without the ``anonymous=None`` it hands to ``wandb.init`` (wandb warns
    that the setting has no effect whenever it is present); ``anonymous=True`` is still passed on."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self._wandb_init.get("anonymous") is None:
            self._wandb_init.pop("anonymous", None)


class ModelSummary(RichModelSummary):
    """Lightning's rich model summary, without the FLOPs column and total when no FLOPs were counted.

    Lightning's ``RichModelSummary.summarize`` adds both unconditionally, so when its total is 0 the table
    is rendered here instead: the same columns and totals less FLOPs (written out because Lightning has
    no option to leave the column out)."""

    @staticmethod
    def summarize(summary_data: list[tuple[str, list[str]]], total_parameters: int, trainable_parameters: int,
                  model_size: float, total_training_modes: dict[str, int], total_flops: int,
                  **summarize_kwargs: Any) -> None:
        if total_flops:
            RichModelSummary.summarize(summary_data, total_parameters, trainable_parameters, model_size,
                                       total_training_modes, total_flops, **summarize_kwargs)
            return
        from pytorch_lightning.utilities.model_summary.model_summary import (
            get_formatted_model_size,
            get_human_readable_count,
        )
        from rich import get_console
        from rich.table import Table

        columns = [(name, values) for name, values in summary_data if name != "FLOPs"]
        table = Table(header_style=summarize_kwargs.get("header_style", "bold magenta"))
        table.add_column(" ", style="dim")
        for name, _ in columns[1:]:
            right = name in ("Params", "Params per Device", "In sizes", "Out sizes")
            table.add_column(name, justify="right" if right else "left", no_wrap=name == "Name",
                             style="white" if name in ("In sizes", "Out sizes") else None)
        for row in zip(*(values for _, values in columns)):
            table.add_row(*row)
        console = get_console()
        console.print(table)
        grid = Table.grid(expand=True)
        grid.add_column()
        for label, value in (
            ("Trainable params", get_human_readable_count(int(trainable_parameters))),
            ("Non-trainable params", get_human_readable_count(int(total_parameters - trainable_parameters))),
            ("Total params", get_human_readable_count(int(total_parameters))),
            ("Total estimated model params size (MB)", get_formatted_model_size(model_size)),
            ("Modules in train mode", total_training_modes["train"]),
            ("Modules in eval mode", total_training_modes["eval"]),
        ):
            grid.add_row(f"[bold]{label}[/]: {value}")
        console.print(grid)


__all__ = ["LIGHTNING_NOTICES", "ModelSummary", "WandbLogger", "silence_library_notices"]
