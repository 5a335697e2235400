"""The console's screens: record lists, the record form and the small dialogs."""
