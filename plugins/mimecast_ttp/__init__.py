"""Mimecast TTP logs (attachment, impersonation, URL) to MITRE ATT&CK-mapped security alerts.

The importable half of the package: Airflow puts ``plugins/`` on ``sys.path``, so everything the
DAG imports lives here under one unique name. ``include/`` holds the data (threat table, endpoint
definitions) and is located through :mod:`mimecast_ttp.paths`.
"""

from __future__ import annotations

__version__ = "0.1.0"
