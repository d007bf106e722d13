"""Out-of-core raw_logs and validated_sequences on DuckDB: the rules of ``hymirec.data.sequences``, in SQL.

The pandas path (``hymirec.data.sequences.build_sequences``) holds every event in memory several times over
(the frame, its sorted copy, the deduplicated copy, the per-user lists as Python objects): ~10⁸ events
do not fit in 24 GiB. Here DuckDB reads the Parquet (or CSV) files, sorts and groups them under a memory
limit, spilling to ``temp_dir`` past it, and writes the same outputs with ``COPY … TO``. No event passes
through Python. On ML-1M the outputs equal the pandas path's row for row (tests/test_streaming.py).

Why DuckDB and not Polars' streaming engine: ``make bench-scale`` runs both (and the pandas path) on the
same 10⁷ synthetic events, single-threaded (reports/scale.json ``engines``; docs/scale.md weighs them).

The rules, as ``hymirec.data.sequences`` states them:
- order by (timestamp, position in the source): the position is the row's index across the input
  files in the order given (``file_row_number`` plus the rows of the files before it);
- a repeated (user, item) pair keeps its first event: per pair the smallest (timestamp, position);
- users with fewer than ``min_user_interactions`` remaining events are dropped, items are not filtered;
- ids become contiguous integers in sorted original-id order (DuckDB compares strings by bytes, which
  for UTF-8 is Python's code-point order, the order ``np.sort`` gives the pandas path);
- one row per user: its items and timestamps in event order.

The Great Expectations suites read the same views batch by batch (``data_checks.tables.EngineTable``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from hymirec.data.schema import GENRE_SEPARATOR, GENRES, ITEM_ID, TIMESTAMP, TITLE, USER_ID
from hymirec.data.sequences import ITEM_IDX, ITEMS, TIMESTAMPS, USER_IDX

SOURCE_ROW = "source_row"
# (timestamp, source row) as one HUGEINT, timestamp * 2^64 + row (0 <= row < 2^64): ordered as the pair, and
# 25 % faster to group and sort than a struct of the two (10^7 events, one thread)
_ROW_SPAN = "18446744073709551616"  # 2^64


@dataclass(frozen=True)
class EngineSettings:
    """DuckDB's resources: threads, the memory it may hold before spilling, where it spills, and how many
    events ``write_sequences`` groups at once."""

    threads: int = 1
    memory_limit: str = "6GB"
    temp_dir: Path | None = None
    events_per_partition: int = 10_000_000  # validated_sequences' user ranges: 10^7 events took 2.5 GiB in memory


@contextmanager
def connect(settings: EngineSettings = EngineSettings()) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    """An in-memory DuckDB with the settings applied, and a private folder (removed after) where it spills
    and where CSV inputs are staged; both under ``settings.temp_dir`` (or the system's temp folder)."""
    with tempfile.TemporaryDirectory(prefix="hymirec-duckdb-", dir=settings.temp_dir) as spill:
        connection = duckdb.connect(config={"threads": settings.threads, "memory_limit": settings.memory_limit})
        try:
            connection.execute(f"SET temp_directory = {_quote(spill)}")
            connection.execute("SET preserve_insertion_order = true")
            connection.execute("SET enable_progress_bar = false")  # a stage's log, not a terminal
            yield connection, Path(spill)
        finally:
            connection.close()


def _quote(text: str | Path) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _parquet(connection: duckdb.DuckDBPyConnection, paths: Sequence[Path], staging: Path) -> list[Path]:
    """``paths`` as Parquet files, in the same order: a CSV/TSV file is copied to Parquet in ``staging``
    first (its rows in file order, ids as text as ``hymirec.data.files.read_table`` reads them), because
    only the Parquet reader numbers rows (``file_row_number``)."""
    parquet = []
    for number, path in enumerate(Path(path).resolve() for path in paths):
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            parquet.append(path)
        elif suffix in (".csv", ".tsv"):
            delimiter = "\t" if suffix == ".tsv" else ","
            staged = staging / f"source-{number:05d}.parquet"
            connection.execute(
                f"COPY (SELECT * FROM {_text_reader(path, delimiter)}) "
                f"TO {_quote(staged)} (FORMAT parquet)"
            )
            parquet.append(staged)
        else:
            raise ValueError(f"{path}: unsupported file type {path.suffix!r} (use .csv, .tsv or .parquet)")
    return parquet


def _text_reader(path: Path, delimiter: str, quote: str = '"') -> str:
    """DuckDB's CSV reader on ``path`` as pandas reads it with ``dtype=str, keep_default_na=False``: every column
    text, an empty field an empty string (DuckDB's default would make it NULL)."""
    return (
        f"read_csv({_quote(path)}, delim = {_quote(delimiter)}, quote = {_quote(quote)}, header = true, all_varchar = true, "
        "nullstr = '\x01', allow_quoted_nulls = false)"
    )


def stage_movielens(connection: duckdb.DuckDBPyConnection, interactions: Path, items: Path, genre_column: str, staging: Path) -> tuple[Path, Path]:
    """A bundled MovieLens data set's RecBole atomic files as Parquet in the common schema, in ``staging``: what
    ``hymirec.data.movielens.load_movielens`` returns (typed headers cut at ``:``, trailing CRs stripped, exact
    integer timestamps, release years without ``.0``, genres joined by ``|``). A timestamp that is not a whole
    number of seconds raises ``ValueError`` naming its line."""
    def atomic(path: Path) -> str:
        columns = [name for name, *_ in connection.execute(f"DESCRIBE SELECT * FROM {_text_reader(path, chr(9), quote='')}").fetchall()]
        renamed = ", ".join(f'rtrim("{column}", chr(13)) AS "{column.split(":", 1)[0].strip()}"' for column in columns)
        return f"(SELECT {renamed} FROM {_text_reader(path, chr(9), quote='')})"

    events = atomic(interactions)
    bad = connection.execute(
        f"SELECT row_number() OVER () + 1 AS line, timestamp FROM {events} QUALIFY NOT regexp_full_match(timestamp, '-?[0-9]+(\\.0*)?') LIMIT 1"
    ).fetchall()
    if bad:
        (bad,) = bad
        raise ValueError(f"{interactions}: row {bad[0]}: timestamp {bad[1]!r} is not a whole number of seconds")
    interactions_file, items_file = staging / "movielens-interactions.parquet", staging / "movielens-items.parquet"
    connection.execute(
        f"""COPY (SELECT user_id AS {USER_ID}, item_id AS {ITEM_ID}, CAST(split_part(timestamp, '.', 1) AS BIGINT) AS {TIMESTAMP}
                  FROM {events}) TO {_quote(interactions_file)} (FORMAT parquet, ROW_GROUP_SIZE 1000000)"""
    )
    connection.execute(
        f"""COPY (SELECT item_id AS {ITEM_ID}, movie_title AS {TITLE}, regexp_replace(release_year, '\\.0$', '') AS year,
                         array_to_string(list_filter(regexp_split_to_array({genre_column}, '\\s+'), lambda genre: genre <> ''), {_quote(GENRE_SEPARATOR)}) AS {GENRES}
                  FROM {atomic(items)}) TO {_quote(items_file)} (FORMAT parquet)"""
    )
    return interactions_file, items_file


def as_written(connection: duckdb.DuckDBPyConnection, path: Path, staging: Path, row_column: str = SOURCE_ROW) -> str:
    """Create view ``source_table`` over one interactions file as ``hymirec.data.files.read_table`` reads it
    (every column as stored, ids as text; a CSV/TSV file all text) plus ``row_column``, its 0-based row; return its name."""
    (parquet,) = _parquet(connection, [path], staging)
    reader = f"read_parquet({_quote(parquet)}, file_row_number = true)"
    columns = [name for name, *_ in connection.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall() if name != "file_row_number"]
    select = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' if c in (USER_ID, ITEM_ID) else f'"{c}"' for c in columns)
    connection.execute(f"CREATE OR REPLACE TEMP VIEW source_table AS SELECT {select}, file_row_number AS {row_column} FROM {reader}")
    return "source_table"


def _reader(paths: Sequence[Path]) -> str:
    """A DuckDB table function reading Parquet ``paths`` with the file and row of each row."""
    files = "[" + ", ".join(_quote(Path(path).resolve()) for path in paths) + "]"
    return f"read_parquet({files}, filename = true, file_row_number = true)"


def source_events(connection: duckdb.DuckDBPyConnection, paths: Sequence[Path], staging: Path) -> str:
    """Create view ``source_events`` (user_id, item_id, timestamp, source_row) over ``paths``; return its name.

    ``source_row`` numbers the rows 0, 1, … across the files in the order given, as one concatenated file would.
    """
    if not paths:
        raise ValueError("no interaction files given")
    paths = _parquet(connection, paths, staging)
    reader = _reader(paths)
    counts = connection.execute(f"SELECT filename, count(*) FROM {reader} GROUP BY filename").fetchall()
    rows = dict(counts)
    offsets, offset = [], 0
    for path in paths:
        offsets.append(f"({_quote(path)}, {offset})")
        offset += rows.get(str(path), 0)
    connection.execute("CREATE OR REPLACE TEMP TABLE file_offsets(filename VARCHAR, first_row BIGINT)")
    connection.execute(f"INSERT INTO file_offsets VALUES {', '.join(offsets)}")
    connection.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW source_events AS
        SELECT CAST(r.{USER_ID} AS VARCHAR) AS {USER_ID},
               CAST(r.{ITEM_ID} AS VARCHAR) AS {ITEM_ID},
               CAST(r.{TIMESTAMP} AS BIGINT) AS {TIMESTAMP},
               f.first_row + r.file_row_number AS {SOURCE_ROW}
        FROM {reader} AS r JOIN file_offsets AS f USING (filename)
        """
    )
    return "source_events"


def write_raw_logs(
    interaction_paths: Sequence[Path],
    items_path: Path,
    out_dir: Path,
    settings: EngineSettings = EngineSettings(),
) -> dict:
    """Stage ``raw_logs``'s outputs (validation aside): ``interactions.parquet`` in the common schema and
    in source order, ``items.parquet`` with every column as text; return the stage metrics."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with connect(settings) as (connection, staging):
        # the files in the order given, each in its row order: with preserve_insertion_order DuckDB keeps it
        files = "[" + ", ".join(_quote(path) for path in _parquet(connection, interaction_paths, staging)) + "]"
        connection.execute(
            f"""
            COPY (SELECT CAST({USER_ID} AS VARCHAR) AS {USER_ID}, CAST({ITEM_ID} AS VARCHAR) AS {ITEM_ID},
                         CAST({TIMESTAMP} AS BIGINT) AS {TIMESTAMP}
                  FROM read_parquet({files}, union_by_name = true))
            TO {_quote(out_dir / "interactions.parquet")} (FORMAT parquet, ROW_GROUP_SIZE 1000000)
            """
        )
        items = _reader(_parquet(connection, [items_path], staging))
        columns = [row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM {items}").fetchall()]
        text = ", ".join(f'CAST("{column}" AS VARCHAR) AS "{column}"' for column in columns if column not in ("filename", "file_row_number"))
        connection.execute(
            f"COPY (SELECT {text} FROM {items} ORDER BY filename, file_row_number) TO {_quote(out_dir / 'items.parquet')} (FORMAT parquet)"
        )
        rows, users, item_count, first, last = connection.execute(
            f"""
            SELECT count(*), count(DISTINCT {USER_ID}), count(DISTINCT {ITEM_ID}), min({TIMESTAMP}), max({TIMESTAMP})
            FROM read_parquet({_quote(out_dir / "interactions.parquet")})
            """
        ).fetchone()
        (catalog,) = connection.execute(f"SELECT count(*) FROM read_parquet({_quote(out_dir / 'items.parquet')})").fetchone()
    return {
        "rows": int(rows),
        "users": int(users),
        "items": int(item_count),
        "catalog_items": int(catalog),
        "timestamp_min": int(first),
        "timestamp_max": int(last),
    }


def write_sequences(
    interaction_paths: Sequence[Path],
    items_path: Path,
    out_dir: Path,
    min_user_interactions: int,
    settings: EngineSettings = EngineSettings(),
) -> dict:
    """Stage ``validated_sequences``'s outputs (validation aside): ``sequences.parquet``, ``items.parquet``
    (the item map) and ``users.parquet`` under ``out_dir``, from raw logs in the common schema; return the
    stats of ``build_sequences`` and the stage's ``sequence_length`` summary.

    Every rule but the two id maps works within one user, so the events are cut into ranges of user_id
    of about ``settings.events_per_partition`` events each, which DuckDB sorts and groups in memory
    instead of spilling one big sort to disk (10⁸ events: 766 s as one query under a 5 GB limit).
    The ranges are processed in user_id order, so their sequences concatenate in user_idx order.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with connect(settings) as (connection, staging):
        source_events(connection, interaction_paths, staging)
        parts = _user_ranges(connection, staging, settings.events_per_partition)
        (raw_events,) = connection.execute("SELECT sum(events) FROM user_rows").fetchone()
        connection.execute(f"CREATE TEMP TABLE user_events ({USER_ID} VARCHAR, events BIGINT)")
        deduplicated = 0
        for part, source in enumerate(parts):
            # a repeated (user, item) pair keeps its first event in (timestamp, source row) order
            connection.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE first_events AS
                SELECT {USER_ID}, {ITEM_ID}, min(CAST({TIMESTAMP} AS HUGEINT) * {_ROW_SPAN} + {SOURCE_ROW}) AS event_key,
                       min({TIMESTAMP}) AS {TIMESTAMP}  -- the first event's: the smallest
                FROM {source} GROUP BY {USER_ID}, {ITEM_ID}
                """
            )
            deduplicated += connection.execute("SELECT count(*) FROM first_events").fetchone()[0]
            connection.execute(f"INSERT INTO user_events SELECT {USER_ID}, count(*) FROM first_events GROUP BY {USER_ID}")
            # users with too few events are dropped
            # Parquet has no 128-bit integer (DuckDB would write the key as a double): store its two halves
            connection.execute(
                f"""
                COPY (SELECT e.{USER_ID}, e.{ITEM_ID}, e.{TIMESTAMP},
                             CAST(e.event_key - CAST(e.{TIMESTAMP} AS HUGEINT) * {_ROW_SPAN} AS BIGINT) AS {SOURCE_ROW}
                      FROM first_events AS e SEMI JOIN user_events AS u
                      ON e.{USER_ID} = u.{USER_ID} AND u.events >= {int(min_user_interactions)})
                TO {_quote(staging / f"kept-{part:05d}.parquet")} (FORMAT parquet)
                """
            )
        connection.execute("DROP TABLE first_events")
        kept = "[" + ", ".join(_quote(staging / f"kept-{part:05d}.parquet") for part in range(len(parts))) + "]"
        # ids in sorted order, over all ranges
        connection.execute(
            f"""
            CREATE TEMP TABLE user_map AS
            SELECT CAST(row_number() OVER (ORDER BY {USER_ID}) - 1 AS BIGINT) AS {USER_IDX}, {USER_ID}
            FROM user_events WHERE events >= {int(min_user_interactions)}
            """
        )
        connection.execute(
            f"""
            CREATE TEMP TABLE item_map AS
            SELECT CAST(row_number() OVER (ORDER BY {ITEM_ID}) - 1 AS BIGINT) AS {ITEM_IDX}, {ITEM_ID}
            FROM (SELECT DISTINCT {ITEM_ID} FROM read_parquet({kept}))
            """
        )
        # one row per user, items and timestamps in event order; range by range, in user_idx order
        pieces = [staging / f"sequences-{part:05d}.parquet" for part in range(len(parts))]
        for part, piece in enumerate(pieces):
            target = out_dir / "sequences.parquet" if len(parts) == 1 else piece
            connection.execute(
                f"""
                COPY (
                    SELECT u.{USER_IDX}, u.{USER_ID},
                           list(i.{ITEM_IDX} ORDER BY e.{TIMESTAMP}, e.{SOURCE_ROW}) AS {ITEMS},
                           list(e.{TIMESTAMP} ORDER BY e.{TIMESTAMP}, e.{SOURCE_ROW}) AS {TIMESTAMPS}
                    FROM read_parquet({_quote(staging / f"kept-{part:05d}.parquet")}) AS e
                    JOIN item_map AS i USING ({ITEM_ID}) JOIN user_map AS u USING ({USER_ID})
                    GROUP BY u.{USER_IDX}, u.{USER_ID} ORDER BY u.{USER_IDX}
                ) TO {_quote(target)} (FORMAT parquet)
                """
            )
        if len(parts) > 1:
            files = "[" + ", ".join(_quote(piece) for piece in pieces) + "]"
            connection.execute(f"COPY (SELECT * FROM read_parquet({files})) TO {_quote(out_dir / 'sequences.parquet')} (FORMAT parquet)")
        items = _reader(_parquet(connection, [items_path], staging))
        columns = [row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM {items}").fetchall()]
        others = ", ".join(f't."{column}"' for column in columns if column not in (ITEM_ID, "filename", "file_row_number"))
        connection.execute(
            f"""
            COPY (SELECT m.{ITEM_IDX}, m.{ITEM_ID}{", " + others if others else ""}
                  FROM item_map AS m JOIN {items} AS t USING ({ITEM_ID}) ORDER BY m.{ITEM_IDX})
            TO {_quote(out_dir / "items.parquet")} (FORMAT parquet)
            """
        )
        connection.execute(f"COPY (SELECT * FROM user_map ORDER BY {USER_IDX}) TO {_quote(out_dir / 'users.parquet')} (FORMAT parquet)")
        (all_users,) = connection.execute("SELECT count(*) FROM user_events").fetchone()
        users, events, shortest, median, mean, longest = connection.execute(
            f"""
            SELECT count(*), sum(events), min(events), quantile_cont(events, 0.5), avg(events), max(events)
            FROM user_events WHERE events >= {int(min_user_interactions)}
            """
        ).fetchone()
        (catalog,) = connection.execute("SELECT count(*) FROM item_map").fetchone()
    events = int(events or 0)
    return {
        "raw_events": int(raw_events),
        "repeated_events_dropped": int(raw_events - deduplicated),
        "short_user_events_dropped": int(deduplicated - events),
        "users_dropped": int(all_users - users),
        "events": events,
        "users": int(users),
        "items": int(catalog),
        "sequence_length": {
            "min": int(shortest),
            "median": float(median),
            "mean": float(mean),
            "max": int(longest),
        },
    }


def _user_ranges(connection: duckdb.DuckDBPyConnection, staging: Path, events_per_partition: int) -> list[str]:
    """Cut ``source_events`` into ranges of user_id of about ``events_per_partition`` events (a user is never
    split); return a table expression per range, in user_id order. One range reads ``source_events`` itself;
    more are written once to Parquet files (one pass), each read back whole."""
    connection.execute(f"CREATE TEMP TABLE user_rows AS SELECT {USER_ID}, count(*) AS events FROM source_events GROUP BY {USER_ID}")
    connection.execute(
        f"""
        CREATE TEMP TABLE user_part AS
        SELECT {USER_ID}, CAST((sum(events) OVER (ORDER BY {USER_ID} ROWS UNBOUNDED PRECEDING) - events)
                               // {int(events_per_partition)} AS BIGINT) AS part
        FROM user_rows
        """
    )
    numbers = [row[0] for row in connection.execute("SELECT DISTINCT part FROM user_part ORDER BY part").fetchall()]
    if len(numbers) <= 1:
        return ["source_events"]
    folder = staging / "ranges"
    connection.execute(
        f"""
        COPY (SELECT s.*, p.part FROM source_events AS s JOIN user_part AS p USING ({USER_ID}))
        TO {_quote(folder)} (FORMAT parquet, PARTITION_BY (part))
        """
    )
    return [f"read_parquet({_quote(folder / f'part={number}' / '*.parquet')})" for number in numbers]
