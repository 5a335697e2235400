"""The reliability and security suite: every promise in docs/guarantees.md, proved
with real processes, real servers and real signals on SQLite, PostgreSQL and MariaDB."""
