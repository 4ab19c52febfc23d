"""``python -m lightning_modules`` == the ``semcolor`` command."""

from lightning_modules.cli import main

main()
