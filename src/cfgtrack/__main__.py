"""``python -m cfgtrack``: the same as the ``cfgtrack`` command."""

from cfgtrack.cli.app import main

main()
