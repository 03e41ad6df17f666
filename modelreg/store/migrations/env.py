"""Alembic environment: migrations run on the connection modelreg hands over
(inside its own transaction and lock), never on a URL of their own."""

from alembic import context

from modelreg.store import monitoring_tables, tables  # noqa: F401  (both register on the metadata)

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("modelreg migrations run through `modelreg db upgrade`")

context.configure(
    connection=connection, target_metadata=tables.SQLModel.metadata, render_as_batch=connection.dialect.name == "sqlite"
)
with context.begin_transaction():
    context.run_migrations()
