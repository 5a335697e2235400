"""Housekeeping commands: the database's schema (``db status|upgrade``), demo data
(``seed``) and the config file (``config path``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from data.actor import Actor
from data.entities import entity_named
from tui.cli.output import EXIT_OK, EXIT_REFUSED, PROG, say, warn

if TYPE_CHECKING:
    from data.database import Database
    from tui.settings import Settings


def cmd_db_status(_args: argparse.Namespace, db: Database) -> int:
    """Where the database is and how its schema compares; exit 0 only when current."""
    from data.schema import schema_state

    state = schema_state(db.engine)
    say(f"database: {db.url}")
    say(f"revision: {state.current or '(none)'}")
    say(f"head:     {state.head}")
    say(f"status:   {state.status}: {state.message}")
    return EXIT_OK if state.status == "current" else EXIT_REFUSED


def cmd_db_upgrade(_args: argparse.Namespace, db: Database) -> int:
    """Bring the schema to head (creating it in an empty database)."""
    from data.schema import schema_state, upgrade

    before = schema_state(db.engine)
    after = upgrade(db.engine)
    if before.current == after.current:
        say(f"{db.url}: already at {after.current}")
    else:
        say(f"{db.url}: upgraded {before.current or f'({before.status})'} -> {after.current}")
    if after.status != "current":
        warn(f"{PROG}: {after.message}")
        return EXIT_REFUSED
    return EXIT_OK


def cmd_seed(args: argparse.Namespace, db: Database) -> int:
    """Fill an empty database with reproducible demo users and products."""
    from data.seed import seed_demo

    result = seed_demo(
        db,
        users=args.users,
        products=args.products,
        seed=args.seed,
        actor=Actor.from_environment(source="cli"),
    )
    users = entity_named("users").counted(result.users)
    products = entity_named("products").counted(result.products)
    say(f"seeded {users} and {products} (seed {args.seed})")
    return EXIT_OK


def cmd_config_path(_args: argparse.Namespace, _db: Database | None) -> int:
    """Print the config file's path and whether it exists; a broken one exits 2."""
    from tui.paths import config_path

    path = config_path()
    settings = config_settings(console=True)
    say(str(path))
    if settings.path is None:
        say("(not found: built-in defaults in use)")
    else:
        say("(exists, valid)")
    return EXIT_OK


def config_settings(*, console: bool) -> Settings:
    """The config file's settings; for the console (or ``config path``) its theme and key
    names are checked against the console's too, which loads Textual. Raises `ConfigError`."""
    from tui.paths import config_path
    from tui.settings import check_console_names, load_settings

    settings = load_settings(config_path())
    if console and (settings.theme is not None or settings.keys):
        from tui.app import binding_ids, theme_names

        check_console_names(settings, themes=theme_names(), binding_ids=binding_ids())
    return settings
