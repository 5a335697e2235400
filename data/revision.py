"""Which schema revision this AccessGuard's migrations reach, known without Alembic or
SQLAlchemy: the start-up checks (`data.schema`, `data.first_page`) read it from here."""

from __future__ import annotations

from pathlib import Path

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"
# The newest migration, read from the file names (each is named after its revision id, and
# numbered) so that a start-up check need not load Alembic to learn it, and a new migration
# needs no line here; tests/test_schema.py fails if Alembic's own head says otherwise.
HEAD = max(path.stem for path in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))

__all__ = ["HEAD", "MIGRATIONS", "VERSION_TABLE"]
