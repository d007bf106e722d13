"""``hymirec recommend``: the top-N items, with titles, from a trained model.

    hymirec recommend --user 1 [2 ...]         each user's full history (original user ids, as in the raw data)
    hymirec recommend --history 50 172 ...     a history of item ids, oldest first
    hymirec recommend --history-file PATH      the same, one item id per line (blank lines and '#' comments skipped)
    hymirec recommend --all-users --out recs.parquet

Which model: none given, the champion registered for this workspace's data
(``models:/hymirec-recommender-<fingerprint>@champion``, ``hymirec.serving.registry``); ``--model URI`` any MLflow
model URI of a logged recommender (``models:/…``, ``runs:/…``); ``--model NAME`` a trained model folder of
the workspace by its report name (``sasrec``, ``hymirec``, ``popularity``, …). ``--explain`` adds the
interest explorer (``hymirec.serving.explain``). ``--out`` writes the lists as Parquet (user_id, rank, item_id,
title, score, source).

A user who is not in the workspace's data gets the popularity list, and the output says so. Unknown item
ids, unknown models and unreadable history files raise ``RequestError`` naming them (one line, exit 1).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from hymirec.config import load_config
from hymirec.data.schema import ITEM_ID, USER_ID
from hymirec.data.sequences import ITEMS, SequenceData, load_sequence_data
from hymirec.io import write_parquet
from hymirec.paths import Layout
from hymirec.serving.explain import Explanation, explain, explanation_text, recommendations_text
from hymirec.serving.served_model import POPULARITY, Catalog, RequestError, ServedModel, load_trained, trained_model_dirs


@dataclass(frozen=True)
class Request:
    label: str  # what the output calls it: "user 1", "history", "history-file PATH"
    user_id: str | None
    history: np.ndarray  # item_idx in the model's catalog; empty for a user not in the data
    unknown_user: bool = False


@cache
def workspace_data(layout: Layout) -> SequenceData:
    if not layout.sequences.is_file():
        raise RequestError(f"{layout.sequences} does not exist: run the pipeline in {layout.root} first "
                           "(the workspace's validated sequences give users' histories and the champion's data)")
    return load_sequence_data(layout)


def resolve_model(spec: str | None, layout: Layout, config_path: Path) -> tuple[ServedModel, str]:
    """The served model and a line that says which it is; a workspace's model is served with the
    ``serving`` section and seed of ``config_path`` (a logged model carries its own)."""
    if spec is None or ":" in spec:
        return _logged_model(spec, layout)
    if spec == POPULARITY:
        return ServedModel.popularity(Catalog.of(workspace_data(layout))), f"model {POPULARITY} (this workspace's data)"
    folders = trained_model_dirs(layout)
    if spec not in folders:
        names = ", ".join([POPULARITY, *folders]) if folders else f"{POPULARITY} (no trained model folder under {layout.root / 'models'})"
        raise RequestError(f"--model {spec!r}: neither an MLflow model URI nor a trained model of this workspace ({names})")
    config = load_config(config_path)
    served = ServedModel(spec, load_trained(spec, folders[spec], layout), Catalog.of(workspace_data(layout)), config.serving, config.seed)
    return served, f"model {spec} ({folders[spec]})"


def _logged_model(uri: str | None, layout: Layout) -> tuple[ServedModel, str]:
    """A logged pyfunc by URI; without one, the champion of this workspace's data."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow
    from mlflow.exceptions import MlflowException

    from hymirec.serving.registry import CHAMPION, champion_uri, data_fingerprint, registered_model_name
    from hymirec.training.tracking import tracking_uri

    mlflow.set_tracking_uri(tracking_uri(layout.root))
    version = ""
    if uri is None:
        data = workspace_data(layout)
        fingerprint = data_fingerprint(data.sequences, data.items)
        uri = champion_uri(fingerprint)
        try:
            champion = mlflow.MlflowClient().get_model_version_by_alias(registered_model_name(fingerprint), CHAMPION)
        except MlflowException:
            raise RequestError(f"no {CHAMPION} for this workspace's data (fingerprint {fingerprint}) in {tracking_uri(layout.root)}: "
                               "run the pipeline (stage evaluation_report registers one) or pass --model NAME|URI") from None
        version = f", version {champion.version}"
    try:
        loaded = mlflow.pyfunc.load_model(uri, model_config={"pretrained_cache": str(layout.pretrained_cache)})
    except (MlflowException, OSError) as error:
        raise RequestError(f"--model {uri}: cannot load it from {tracking_uri(layout.root)}: {str(error).splitlines()[0]}") from None
    served = loaded.unwrap_python_model().served
    return served, f"model {served.name} ({uri}{version})"


def read_history_file(path: Path) -> list[str]:
    """Item ids, one per line; blank lines and '#' comments skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RequestError(f"--history-file {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise RequestError(f"--history-file {path}: cannot read it as UTF-8 text ({error})") from None
    ids = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not ids:
        raise RequestError(f"--history-file {path}: no item ids in it (expected one item id per line)")
    return ids


def build_requests(args: argparse.Namespace, served: ServedModel, layout: Layout) -> list[Request]:
    catalog = served.catalog
    if args.history:
        return [Request("history", None, catalog.item_idx(args.history, "--history"))]
    if args.history_file:
        path = Path(args.history_file)
        return [Request(f"history file {path}", None, catalog.item_idx(read_history_file(path), f"--history-file {path}"))]
    data = workspace_data(layout)
    item_ids = data.items[ITEM_ID].to_numpy().astype(str)
    histories = dict(zip(data.sequences[USER_ID].astype(str), data.sequences[ITEMS]))
    users = list(histories) if args.all_users else args.user
    requests = []
    known = ", ".join(list(histories)[:3])  # ids are the data's own strings (MovieLens-1M: "1m_1"): show their form
    for user in users:
        if user not in histories:
            requests.append(Request(f"user {user} (ids here look like {known})", user, np.empty(0, dtype=np.int64), unknown_user=True))
            continue
        history = item_ids[np.asarray(histories[user], dtype=np.int64)]
        requests.append(Request(f"user {user}", user, catalog.item_idx(history, f"user {user}'s history")))
    return requests


def _heading(request: Request) -> str:
    if request.unknown_user:
        return f"{request.label}: not in this workspace's data; the most popular items instead"
    return f"{request.label}: {len(request.history)} items in the history"


def run(args: argparse.Namespace) -> int:
    layout = Layout(Path(args.root).resolve())
    if args.all_users and not args.out:
        raise RequestError("--all-users needs --out PATH (a Parquet file for every user's list)")
    if args.top < 1:
        raise RequestError(f"-n/--top {args.top}: must be at least 1")
    if args.explain and args.all_users:
        raise RequestError("--explain explains one list at a time: use --user or --history")
    served, described = resolve_model(args.model, layout, Path(args.config))
    requests = build_requests(args, served, layout)
    print(described)
    recommendations = served.recommend([request.history for request in requests], args.top)
    if args.out:
        frame = recommendations.frame(served.catalog, {USER_ID: [request.user_id for request in requests]})
        if not any(request.user_id for request in requests):
            frame = frame.drop(columns=USER_ID)
        write_parquet(frame, Path(args.out))
        users = sum(1 for request in requests if not request.unknown_user)
        print(f"wrote {len(frame)} recommendations for {len(requests)} requests ({users} known users) to {args.out}")
    if args.all_users:
        return 0
    for row, request in enumerate(requests):
        print("\n" + _heading(request))
        if args.explain:
            print(explanation_text(served, explain(served, request.history, args.top)))
        else:
            listed = Explanation(request.history, recommendations.items[row], recommendations.scores[row], None, [],
                                 bool(recommendations.from_popularity[row]))
            print("\n".join(recommendations_text(served, listed)))
    return 0

