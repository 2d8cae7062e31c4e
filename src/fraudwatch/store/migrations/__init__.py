"""Alembic migrations of the service database (run them with ``fraudwatch db upgrade``)."""
