"""REST API: FastAPI app factory, SQLAlchemy models, repository, routes, migrations."""
