"""How AccessGuard stores things: config, engine, sessions, queries, validation, errors,
migrations, import and export. Never imports textual or tui."""

# AccessGuard's own package: tui.cli.ownership looks for this line.
