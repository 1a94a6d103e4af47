"""Persistence: schema, engine and transactions, migrations, the change log."""
