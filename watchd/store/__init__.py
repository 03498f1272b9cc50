"""The job store: SQLAlchemy models, the engine set-up, migrations and queries."""
