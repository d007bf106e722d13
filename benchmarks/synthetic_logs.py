"""Synthetic interaction logs calibrated on MovieLens-1M, at any size, in Parquet chunks.

    python benchmarks/synthetic_logs.py --events 10000000 --out /tmp/synth/10m [--seed 0]

writes ``<out>/interactions/part-00000.parquet`` … (user_id, item_id, timestamp: the raw-logs schema of
hymirec/data/schema.py), ``<out>/items.parquet`` (item_id, title, year, genres) and ``<out>/manifest.json``.
The same (events, seed, chunk size) writes the same bytes.

What is calibrated on ML-1M (constants below were measured on the bundled ML-1M, 1,000,209 events; the
test re-measures ML-1M and compares):
- events per user: ML-1M's empirical quantile function (101 knots, interpolated in log space; it is close
  to a log-normal, mean 4.61 and sd 0.99 of log length, but with ML-1M's floor of 20 events);
- item popularity: ML-1M's rank-frequency curve over the *normalised* rank (rank / items), so a bigger
  catalog keeps the shape: a power law of slope about -0.5 over the head, falling faster in the tail;
- timestamps: a user's first event from ML-1M's first-event quantiles, then gaps from ML-1M's gap
  quantiles (53 % of them 0 s: ratings in the same second, which exercise the tie rule), squeezed so a
  user ends by ML-1M's last day;
- the item table: release years from ML-1M's year quantiles, 1–6 genres drawn with ML-1M's genre
  frequencies, a title from word templates.
What grows with events: users (events / 165.6, ML-1M's mean) and items (3,706 × (events / 10⁶)^0.7155,
so 10⁸ events have about 100,000 items; at most 100,000).
Items are drawn with replacement: unlike ML-1M (one rating per user and movie) a user may repeat an
item at another time, as implicit logs do; ``validated_sequences`` keeps the first. No
(user_id, item_id, timestamp) row is repeated (the raw-logs rule ``interaction_is_unique``).
Within a chunk rows are in time order, as a log is written; chunks hold disjoint users.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ML1M_EVENTS = 1_000_209
ML1M_ITEMS = 3_706
ML1M_MEAN_EVENTS_PER_USER = 165.5975
ITEM_GROWTH = math.log(100_000 / ML1M_ITEMS) / math.log(100)  # 0.7155: 10^8 events -> 100k items
MAX_ITEMS = 100_000
ML1M_LAST_TIMESTAMP = 1_046_454_590  # 2003-02-28

# ML-1M quantiles at u = 0, 0.01, ..., 1 of events per user
LENGTH_KNOTS = [20, 20, 21, 22, 22, 23, 24, 25, 25, 26, 27, 28, 29, 30, 31, 32, 33, 35, 36, 36, 38, 39, 40, 41, 43, 44,
                46, 47, 48, 50, 51, 52, 54, 56, 58, 60, 62, 64, 65, 67, 70, 72, 74, 76, 78, 81, 84, 86, 89, 92, 96, 99,
                101, 103, 106, 109, 113, 116, 120, 123, 126, 130, 135, 139, 144, 148, 153, 157, 162, 168, 173, 179, 187,
                195, 202, 208, 214, 223, 231, 241, 253, 263, 277, 287, 299, 309, 323, 338, 357, 380, 400, 420, 449, 484,
                516, 556, 616, 693, 784, 907, 2314]  # fmt: skip
# ML-1M quantiles at u = 0, 0.01, ..., 1 of the seconds between a user's consecutive events (0 for u <= 0.53)
GAP_KNOTS = [0] * 54 + [1, 12, 13, 15, 16, 17, 17, 18, 19, 20, 20, 21, 22, 23, 24, 24, 25, 26, 27, 28, 29, 30, 31, 32,
                        34, 35, 37, 38, 40, 42, 44, 47, 50, 53, 57, 62, 67, 74, 83, 95, 111, 135, 176, 277, 1191,
                        479609, 88923270]  # fmt: skip
# ML-1M quantiles at u = 0, 0.025, ..., 1 of each user's first timestamp
FIRST_TIMESTAMP_KNOTS = [956703932, 957478608, 958417660, 959276332, 960030431, 961093075, 962089429, 962594935,
                         962901144, 963682151, 964740565, 965175379, 965312689, 965443451, 965709057, 966040322,
                         966564735, 967139674, 967913823, 968791914, 970500996, 972469215, 973286446, 973966699,
                         974245341, 974581143, 974649668, 974686670, 974697746, 974710930, 974748371, 974771819,
                         974846472, 974961375, 975214389, 975460516, 975885409, 976234981, 976520272, 977345394,
                         1037737203]  # fmt: skip
# ML-1M events of the item at normalised rank (rank / 3,706)
POPULARITY_RANK = [0.00027, 0.00054, 0.000809, 0.001079, 0.001349, 0.001889, 0.002159, 0.002698, 0.003508, 0.004047,
                   0.005127, 0.006476, 0.007825, 0.009714, 0.011873, 0.014841, 0.018349, 0.022666, 0.027793, 0.034269,
                   0.042364, 0.052348, 0.06449, 0.07987, 0.098489, 0.121695, 0.150027, 0.185375, 0.228818, 0.282515,
                   0.348624, 0.430383, 0.53157, 0.656233, 0.810038, 1.0]  # fmt: skip
POPULARITY_EVENTS = [3428, 2991, 2990, 2883, 2672, 2649, 2590, 2578, 2513, 2443, 2288, 2227, 2098, 1800, 1725, 1650,
                     1495, 1400, 1330, 1222, 1120, 1034, 930, 826, 736, 645, 554, 459, 379, 302, 230, 167, 105, 55,
                     21, 1]  # fmt: skip
# ML-1M quantiles at u = 0, 0.025, ..., 1 of the release year (3,883 movies)
YEAR_KNOTS = [1919, 1938, 1946, 1954, 1959, 1963, 1969, 1973, 1977, 1980, 1982, 1984, 1986, 1987, 1988, 1990, 1991,
              1992, 1993, 1993, 1994, 1994, 1995, 1995, 1995, 1995, 1996, 1996, 1996, 1997, 1997, 1997, 1997, 1998,
              1998, 1998, 1999, 1999, 1999, 2000, 2000]  # fmt: skip
# ML-1M movies per genre, and movies with 1..6 genres
GENRE_COUNTS = {"Drama": 1603, "Comedy": 1200, "Action": 503, "Thriller": 492, "Romance": 471, "Horror": 343,
                "Adventure": 283, "Sci-Fi": 276, "Children's": 251, "Crime": 211, "War": 143, "Documentary": 127,
                "Musical": 114, "Mystery": 106, "Animation": 105, "Fantasy": 68, "Western": 68, "Film-Noir": 44}  # fmt: skip
GENRES_PER_ITEM = [2025, 1322, 421, 100, 14, 1]

ADJECTIVES = ["Silent", "Last", "Broken", "Golden", "Hidden", "Lost", "Crimson", "Midnight", "Wild", "Distant",
              "Frozen", "Burning", "Secret", "Little", "Dark", "Bright", "Final", "Endless", "Forgotten", "Savage",
              "Quiet", "Electric", "Hollow", "Sweet", "Iron", "Paper", "Glass", "Northern", "Southern", "Restless"]  # fmt: skip
NOUNS = ["River", "Heart", "City", "Summer", "Kingdom", "Road", "Garden", "Storm", "Shadow", "Promise", "Island",
         "Mirror", "Voyage", "Harbor", "Witness", "Empire", "Stranger", "Circus", "Letter", "Frontier", "Dream",
         "Machine", "Season", "Orchard", "Signal", "Valley", "Crown", "Tide", "Bridge", "Game"]  # fmt: skip
TITLE_TEMPLATES = ["The {adj} {noun}", "{adj} {noun}", "A {noun} of {noun2}s", "The {noun} and the {noun2}",
                   "Return to the {adj} {noun}", "{noun}s"]  # fmt: skip

INTERACTIONS_DIR = "interactions"
ITEMS_FILE = "items.parquet"
MANIFEST_FILE = "manifest.json"


def catalog_size(events: int) -> int:
    """Items for a log of ``events`` events: ML-1M's 3,706 at 10⁶, growing as events^0.7155, at most 100,000."""
    return int(min(MAX_ITEMS, round(ML1M_ITEMS * (events / ML1M_EVENTS) ** ITEM_GROWTH)))


def _quantile_function(knots: list[int], u: np.ndarray, *, log: bool) -> np.ndarray:
    """ML-1M's empirical quantile function at probabilities ``u``, linear between knots (in log1p space if ``log``)."""
    grid = np.linspace(0.0, 1.0, len(knots))
    values = np.log1p(np.asarray(knots, dtype=np.float64)) if log else np.asarray(knots, dtype=np.float64)
    out = np.interp(u, grid, values)
    return np.expm1(out) if log else out


def popularity(items: int) -> np.ndarray:
    """Probability of each item rank 0..items-1: ML-1M's rank-frequency curve at the same normalised rank."""
    rank = (np.arange(items, dtype=np.float64) + 1.0) / items
    log_events = np.interp(np.log(rank), np.log(POPULARITY_RANK), np.log(POPULARITY_EVENTS))
    weights = np.exp(log_events)
    return weights / weights.sum()


def user_lengths(events: int, seed: int) -> np.ndarray:
    """Events per user, ML-1M's length distribution, summing to exactly ``events`` (the last user is cut)."""
    rng = np.random.default_rng([seed, 0])
    expected_users = int(events / ML1M_MEAN_EVENTS_PER_USER * 1.2) + 16
    lengths = np.round(_quantile_function(LENGTH_KNOTS, rng.random(expected_users), log=True)).astype(np.int64)
    while lengths.sum() < events:  # only for tiny logs
        more = np.round(_quantile_function(LENGTH_KNOTS, rng.random(expected_users), log=True)).astype(np.int64)
        lengths = np.concatenate([lengths, more])
    users = int(np.searchsorted(np.cumsum(lengths), events)) + 1
    lengths = lengths[:users].copy()
    lengths[-1] -= lengths.sum() - events
    return lengths


def _chunk_events(lengths: np.ndarray, first_user: int, items: int, item_cdf: np.ndarray, item_of_rank: np.ndarray,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(user number, item number, timestamp) of every event of users ``first_user`` … in time order."""
    users = np.repeat(np.arange(first_user, first_user + len(lengths), dtype=np.int64), lengths)
    n = len(users)
    ranks = np.minimum(np.searchsorted(item_cdf, rng.random(n), side="right"), items - 1)
    item = item_of_rank[ranks]
    first = _quantile_function(FIRST_TIMESTAMP_KNOTS, rng.random(len(lengths)), log=False).astype(np.int64)
    gaps = np.round(_quantile_function(GAP_KNOTS, rng.random(n), log=True)).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    gaps[starts] = 0  # a user's first event is at their first timestamp
    elapsed = np.cumsum(gaps)
    elapsed -= np.repeat(elapsed[starts], lengths)
    span = np.maximum(np.repeat(elapsed[starts + lengths - 1], lengths), 1)
    room = np.repeat(np.maximum(ML1M_LAST_TIMESTAMP - first, 0), lengths)
    squeezed = np.where(span > room, elapsed * (room / span), elapsed)  # end by ML-1M's last day
    timestamp = np.repeat(first, lengths) + np.floor(squeezed).astype(np.int64)
    item = _no_repeated_rows(users, item, timestamp, items)
    order = np.lexsort((users, timestamp))  # a log: time order, users interleaved
    return users[order], item[order], timestamp[order]


def _no_repeated_rows(users: np.ndarray, item: np.ndarray, timestamp: np.ndarray, items: int) -> np.ndarray:
    """Move the item of a repeated (user, item, timestamp) row to the next item number until none repeats."""
    item = item.copy()
    while True:
        order = np.lexsort((item, timestamp, users))
        u, i, t = users[order], item[order], timestamp[order]
        repeated = np.flatnonzero((u[1:] == u[:-1]) & (i[1:] == i[:-1]) & (t[1:] == t[:-1])) + 1
        if not len(repeated):
            return item
        item[order[repeated]] = (item[order[repeated]] + 1) % items


def _ids(prefix: str, count: int) -> pa.Array:
    """"<prefix>0", "<prefix>1", …: string ids, not integers, as the raw-logs schema keeps ids."""
    return pa.array([f"{prefix}{number}" for number in range(count)], type=pa.string())


def item_table(items: int, seed: int) -> pa.Table:
    """item_id, title, year, genres (|-separated) for items 0..items-1."""
    rng = np.random.default_rng([seed, 1])
    templates = rng.integers(len(TITLE_TEMPLATES), size=items)
    adjectives = rng.integers(len(ADJECTIVES), size=items)
    nouns = rng.integers(len(NOUNS), size=(items, 2))
    sequel = rng.random(items) < 0.08
    titles = []
    for number in range(items):
        title = TITLE_TEMPLATES[templates[number]].format(
            adj=ADJECTIVES[adjectives[number]], noun=NOUNS[nouns[number, 0]], noun2=NOUNS[nouns[number, 1]]
        )
        titles.append(f"{title} {2 + number % 4}" if sequel[number] else title)
    years = np.round(_quantile_function(YEAR_KNOTS, rng.random(items), log=False)).astype(np.int64)
    names = list(GENRE_COUNTS)
    genre_p = np.array(list(GENRE_COUNTS.values()), dtype=np.float64)
    genre_p /= genre_p.sum()
    per_item_p = np.array(GENRES_PER_ITEM, dtype=np.float64) / sum(GENRES_PER_ITEM)
    counts = rng.choice(len(per_item_p), size=items, p=per_item_p) + 1
    genres = ["|".join(names[g] for g in sorted(rng.choice(len(names), size=k, replace=False, p=genre_p))) for k in counts]
    return pa.table(
        {
            "item_id": _ids("i", items),
            "title": pa.array(titles, type=pa.string()),
            "year": pa.array([str(year) for year in years], type=pa.string()),
            "genres": pa.array(genres, type=pa.string()),
        }
    )


def generate(events: int, out: Path, *, seed: int = 0, chunk_events: int = 5_000_000) -> dict:
    """Write a log of exactly ``events`` events under ``out``; return the manifest (also written)."""
    started = time.perf_counter()
    out = Path(out)
    (out / INTERACTIONS_DIR).mkdir(parents=True, exist_ok=True)
    for stale in (out / INTERACTIONS_DIR).glob("part-*.parquet"):
        stale.unlink()
    items = catalog_size(events)
    lengths = user_lengths(events, seed)
    users = len(lengths)
    item_cdf = np.cumsum(popularity(items))
    item_of_rank = np.random.default_rng([seed, 2]).permutation(items)  # popularity is not in id order
    user_names, item_names = _ids("u", users), _ids("i", items)
    bounds = np.searchsorted(np.cumsum(lengths), np.arange(chunk_events, events, chunk_events), side="left") + 1
    files = []
    for chunk, (low, high) in enumerate(zip([0, *bounds.tolist()], [*bounds.tolist(), users], strict=True)):
        if low >= high:
            continue
        rng = np.random.default_rng([seed, 3, chunk])
        user, item, timestamp = _chunk_events(lengths[low:high], low, items, item_cdf, item_of_rank, rng)
        table = pa.table(
            {
                "user_id": user_names.take(pa.array(user)),
                "item_id": item_names.take(pa.array(item)),
                "timestamp": pa.array(timestamp, type=pa.int64()),
            }
        )
        path = out / INTERACTIONS_DIR / f"part-{chunk:05d}.parquet"
        pq.write_table(table, path, row_group_size=1_000_000)
        files.append(path.name)
    pq.write_table(item_table(items, seed), out / ITEMS_FILE)
    manifest = {
        "events": events,
        "users": users,
        "items": items,
        "seed": seed,
        "chunk_events": chunk_events,
        "files": files,
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def interaction_files(out: Path) -> list[Path]:
    """The interaction chunks of a generated log, in order."""
    return sorted((Path(out) / INTERACTIONS_DIR).glob("part-*.parquet"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=float, required=True, help="events to write, e.g. 1e6, 1e7, 1e8")
    parser.add_argument("--out", type=Path, required=True, help="output folder (interactions/part-*.parquet, items.parquet)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk-events", type=int, default=5_000_000, help="events per Parquet file (whole users)")
    args = parser.parse_args(argv)
    manifest = generate(int(args.events), args.out, seed=args.seed, chunk_events=args.chunk_events)
    print(f"{manifest['events']:,} events, {manifest['users']:,} users, {manifest['items']:,} items, "
          f"{len(manifest['files'])} files in {args.out} ({manifest['seconds']} s)")  # fmt: skip


if __name__ == "__main__":
    main()
