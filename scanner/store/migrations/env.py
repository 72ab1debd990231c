"""Alembic's environment for the store: always run by scanner.store.db on a
connection it opened (and locked), never from an alembic.ini."""
from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
