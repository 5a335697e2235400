"""``python -m tui.cli``: the accessguard command line, as ``python -m tui``."""

from tui.cli import main

raise SystemExit(main())
