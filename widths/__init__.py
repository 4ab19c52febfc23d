"""Tools for slimmable networks' widths (``slimseg``): per-width evaluation, latency and cost tables
(:mod:`.sweep`, the ``WidthSweep`` / ``BNCalibration`` callbacks) and static per-width export
(:mod:`.export`, ``make export-widths``)."""
