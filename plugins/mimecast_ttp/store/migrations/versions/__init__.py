"""The alert store's migrations, one file per revision (``0001_initial.py``, ...); Alembic skips this file."""
