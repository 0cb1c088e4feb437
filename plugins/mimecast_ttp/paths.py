"""Where the package's data files live.

``include/`` is not on Airflow's ``sys.path``, so it is found next to ``plugins/`` (the repository
layout, and ``/opt/airflow`` in the image) unless ``MIMECAST_TTP_INCLUDE_DIR`` says otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]


def include_dir() -> Path:
    """The folder holding the threat table and the endpoint definitions."""
    return Path(os.environ.get("MIMECAST_TTP_INCLUDE_DIR") or PROJECT_DIR / "include")
