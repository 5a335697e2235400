"""The reliability and security suite: every promise in the README's "Guarantees", proved
with real processes, real servers and real signals on SQLite, PostgreSQL and MariaDB."""
