"""The alert store's Alembic environment: ``env.py``, the revision template, ``versions/``.

A package only so the files ship with the wheel; Alembic reads them by path (see
:func:`mimecast_ttp.store.migrate.alembic_config`).
"""
