"""The Dagster instance folder (``$DAGSTER_HOME``) that ``make run`` and ``make dagster`` share.

``python -m orchestration.instance`` prepares it for ``make dagster``; ``orchestration.run`` calls
``prepare_dagster_home`` itself. Its ``dagster.yaml`` keeps storage at Dagster's default (SQLite in
the folder) and turns off the UI's first-visit "Join the community" dialog (``nux``) and telemetry.
Settings a user wrote there are kept; only missing ones are added.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import yaml

DEFAULT_HOME = ".dagster_home"  # under the project root, as the Makefile's DAGSTER_HOME
HEADER = "# Dagster instance of HyMiRec runs (python -m orchestration.run, make dagster).\n"
SETTINGS: dict[str, Any] = {"nux": {"enabled": False}, "telemetry": {"enabled": False}}


def prepare_dagster_home(root: Path) -> Path:
    """``$DAGSTER_HOME`` (default ``<root>/.dagster_home``), created, with ``SETTINGS`` in its dagster.yaml; sets
    the variable for this process and returns the folder."""
    home = Path(os.environ.get("DAGSTER_HOME") or root / DEFAULT_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    instance_yaml = home / "dagster.yaml"
    text = instance_yaml.read_text(encoding="utf-8") if instance_yaml.exists() else HEADER
    current = yaml.safe_load(text) or {}
    wanted = {**SETTINGS, **current}  # a user's own nux/telemetry setting wins
    if wanted != current:
        comments = "".join(line + "\n" for line in text.splitlines() if line.startswith("#")) or HEADER
        instance_yaml.write_text(comments + yaml.safe_dump(wanted, sort_keys=False), encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


if __name__ == "__main__":
    print(f"DAGSTER_HOME={prepare_dagster_home(Path.cwd())}", file=sys.stderr)
