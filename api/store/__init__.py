"""The store: every read and write of departments and projects, with its domain rules."""
