"""How AccessGuard is shown: the command line (and, on top of it, the console)."""

# AccessGuard's own package: tui.cli.ownership looks for this line.
