"""How AccessGuard is shown: the command line (and, on top of it, the console)."""
