"""The inbox: interaction files dropped into ``data.inbox`` join the log as a new data version.

Stage ``raw_logs`` calls ``ingest_inbox`` after loading and validating the configured source. Each
file in the inbox that was not ingested before (by content: its sha256, so a renamed copy or a file
dropped twice is skipped) is read and checked on its own, against the raw-logs rules and the
source's item catalog, by the ``check`` the stage passes in (``data_checks.inbox.check_inbox_file``:
``data_checks`` imports ``hymirec.data``, never the reverse):

- it must be an interactions file (``user_id, item_id, timestamp``; extra columns ignored), read as
  ``hymirec validate`` reads one (CSV, TSV or Parquet; rules ``file_is_readable``,
  ``delimiter_matches_extension``), and pass the raw-logs suite with ``data.timestamp_min/max``;
- every item must already be in the catalog (rule ``item_exists_in_items_table``): the inbox adds
  events, not items;
- its events must be new: an event (user_id, item_id, timestamp) already in the log or in an earlier
  inbox file breaks ``interaction_is_unique``;
- one user with one event is enough (the data-set-level ``some_user_has_min_interactions`` is the
  source's rule: new events extend existing histories).

A file is accepted or rejected whole. An accepted file's events are stored in ``data/raw`` (the
stage's DVC output) as ``inbox-<sha256 prefix>.parquet`` and listed in ``inbox_manifest.json``
(file name, sha256, rows), so each ingestion is a new version of ``data/raw`` and the stages
downstream see the events. Files accepted before are carried over byte for byte. A rejected file is
moved to ``<inbox>/rejected/`` beside ``<file>.reason.txt``, which names the rule, the file and rows.
Accepted files stay in the inbox (skipped by hash). The store belongs to its source: when
``data.source`` (or its files) changes, the inbox files are checked again against the new catalog.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hymirec.config import DataConfig, DataSource
from hymirec.data.schema import INTERACTION_COLUMNS
from hymirec.io import read_json, write_json, write_parquet, write_text

logger = logging.getLogger(__name__)

INBOX_PATTERNS: tuple[str, ...] = ("*.csv", "*.tsv", "*.parquet", "*.inter", "*.item")
REJECTED_DIR = "rejected"
MANIFEST = "inbox_manifest.json"


class RejectedFile(Exception):
    """An inbox file broke a rule; the message, written beside it as ``<file>.reason.txt``, names the rule, the file and rows."""


class EventLog:
    """Every event accepted so far: the source's, read by DuckDB from its files (view ``source``, never loaded
    whole), and each accepted inbox file's."""

    def __init__(self, connection, source: str) -> None:
        self.connection, self.parts = connection, [source]

    def add(self, events: pd.DataFrame) -> None:
        name = f"inbox_events_{len(self.parts)}"
        self.connection.register(name, events[list(INTERACTION_COLUMNS)])
        self.parts.append(name)

    def known(self, events: pd.DataFrame) -> np.ndarray:
        """Positions (sorted) of the rows of ``events`` (schema types) already in the log."""
        self.connection.register("candidate_events", events[list(INTERACTION_COLUMNS)].assign(position=np.arange(len(events))))
        log = " UNION ALL ".join(f"SELECT {', '.join(INTERACTION_COLUMNS)} FROM {part}" for part in self.parts)
        found = self.connection.execute(
            f"SELECT DISTINCT c.position FROM candidate_events AS c SEMI JOIN ({log}) AS l USING ({', '.join(INTERACTION_COLUMNS)}) ORDER BY 1"
        ).fetchall()
        self.connection.unregister("candidate_events")
        return np.array([row[0] for row in found], dtype=np.int64)


FileCheck = Callable[[Path, pd.DataFrame, EventLog, DataConfig], pd.DataFrame]
"""``check(path, items, log, config)``: the file's events in schema types, or ``RejectedFile``; ``items`` is the
validated source's catalog, ``log`` every event accepted so far."""


def inbox_files(folder: Path, patterns: tuple[str, ...] | list[str] = INBOX_PATTERNS) -> list[Path]:
    """Files under ``folder`` matching ``patterns``, sorted; hidden ones (writes in progress) and
    ``rejected/`` skipped. The sensor watches exactly the files that ingestion reads."""
    if not folder.is_dir():
        return []
    found = set()
    for pattern in patterns:
        for path in folder.rglob(pattern):
            parts = path.relative_to(folder).parts
            if path.is_file() and parts[0] != REJECTED_DIR and not any(part.startswith(".") for part in parts):
                found.add(path)
    return sorted(found)


@dataclass(frozen=True)
class AcceptedFile:
    """One ingested inbox file: its name in the inbox, its content hash, and its events (schema types)."""

    file: str
    sha256: str
    events: pd.DataFrame

    @property
    def events_name(self) -> str:
        return f"inbox-{self.sha256[:16]}.parquet"

    def manifest_entry(self) -> dict:
        return {"file": self.file, "sha256": self.sha256, "rows": len(self.events), "events": self.events_name}


@dataclass(frozen=True)
class Inbox:
    """Every file accepted so far, in arrival order, for the log of ``source``."""

    source: list[str]
    accepted: list[AcceptedFile]

    @property
    def events(self) -> list[pd.DataFrame]:
        return [file.events for file in self.accepted]

    def write(self, staging: Path, previous: Path) -> None:
        """Put the store into ``staging`` (the new ``data/raw``): earlier files copied byte for byte from
        ``previous`` (the current ``data/raw``), new ones written. Nothing is written for an empty inbox,
        so ``data/raw`` stays the same data version as without one."""
        if not self.accepted:
            return
        for file in self.accepted:
            if (previous / file.events_name).is_file():
                shutil.copyfile(previous / file.events_name, staging / file.events_name)
            else:
                write_parquet(file.events, staging / file.events_name)
        write_json({"source": self.source, "files": [file.manifest_entry() for file in self.accepted]}, staging / MANIFEST)


def ingest_inbox(config: DataConfig, items: pd.DataFrame, log: EventLog, root: Path, store: Path, check: FileCheck) -> Inbox:
    """Files accepted before (read from ``store``, the current ``data/raw``) plus the inbox's new files
    that pass ``check``; new bad files are moved to ``rejected/`` with their reason. ``items`` is the
    validated source's catalog, ``log`` its events. With ``data.inbox`` null the inbox is off and the log is
    the source alone."""
    source = _source_id(config)
    if config.inbox is None:
        return Inbox(source, [])
    accepted = _previous(store, source)
    folder = root / config.inbox
    seen = {file.sha256 for file in accepted}
    for file in accepted:
        log.add(file.events)
    for path in inbox_files(folder):
        if _is_source_file(path, config) or (digest := _sha256(path)) in seen:
            continue
        try:
            events = check(path, items, log, config)
        except RejectedFile as error:
            _reject(path, folder, error)
            continue
        accepted.append(AcceptedFile(path.relative_to(folder).as_posix(), digest, events))
        seen.add(digest)
        log.add(events)
        logger.info("inbox: accepted %s (%d events)", path, len(events))
    return Inbox(source, accepted)


def _previous(store: Path, source: list[str]) -> list[AcceptedFile]:
    """The files listed in ``store``'s manifest, if it was written for the same source."""
    manifest = read_json(store / MANIFEST) if (store / MANIFEST).is_file() else {"source": source, "files": []}
    if manifest["source"] != source:
        return []
    return [AcceptedFile(e["file"], e["sha256"], pd.read_parquet(store / e["events"])) for e in manifest["files"]]


def _source_id(config: DataConfig) -> list[str]:
    """What the store belongs to: the bundled data set's name, or the configured files as written
    (not resolved paths: a moved virtualenv or checkout is still the same source)."""
    if config.source is DataSource.FILES:
        return [config.source.value, str(config.interactions_path), str(config.items_path)]
    return [config.source.value]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_source_file(path: Path, config: DataConfig) -> bool:
    """The configured files of ``data.source: files`` may live in the inbox; they are the source, not new events."""
    if config.source is not DataSource.FILES:
        return False
    return path.resolve() in {Path(config.interactions_path).resolve(), Path(config.items_path).resolve()}


def _reject(path: Path, folder: Path, error: RejectedFile) -> None:
    """Move ``path`` to ``<inbox>/rejected/`` (keeping its sub-folder) beside ``<file>.reason.txt``."""
    target = folder / REJECTED_DIR / path.relative_to(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text(f"{error}\n", target.with_name(f"{target.name}.reason.txt"))
    os.replace(path, target)
    logger.warning("inbox: rejected %s -> %s\n%s", path, target, error)
