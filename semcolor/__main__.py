"""``python -m semcolor`` == the ``semcolor`` command."""

from semcolor.cli.main import main

main()
