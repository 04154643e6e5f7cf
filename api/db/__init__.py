"""Persistence of the REST API: SQLAlchemy models, engine and sessions, migrations."""
