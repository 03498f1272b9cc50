"""watchd's Alembic environment and revisions, installed as the package watchd.migrations.

Run through watchd.store.migrate (the daemon at start, or `watchd db upgrade`).
"""
