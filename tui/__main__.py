"""``python -m tui``: the accessguard command line."""

from tui.cli import main

raise SystemExit(main())
