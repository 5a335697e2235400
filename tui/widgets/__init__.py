"""Reusable widgets of the console: the record table and the owner picker."""
