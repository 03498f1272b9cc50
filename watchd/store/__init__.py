"""The job store: SQLAlchemy models, the engine set-up, the migrations runner and queries.

The Alembic revisions live in migrations/ at the top of the tree (package watchd.migrations).
"""
