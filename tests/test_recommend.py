"""`hymirec recommend` on a small workspace built in code: lists with titles, unknown users, clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from hymirec.cli import build_parser
from hymirec.config import ComiRecConfig, SASRecConfig, ServingConfig
from hymirec.io import write_parquet
from hymirec.models.comirec import ComiRec
from hymirec.models.persistence import load_model, save_model
from hymirec.models.sasrec import SASRec
from hymirec.paths import Layout
from hymirec.serving.served_model import Catalog, ServedModel


@pytest.fixture
def workspace(tmp_path: Path, served_data) -> Path:
    """Validated sequences and two trained model folders, as the pipeline leaves them."""
    layout = Layout(tmp_path / "workspace")
    write_parquet(served_data.sequences, layout.sequences)
    write_parquet(served_data.items, layout.item_map)
    write_parquet(served_data.users, layout.user_map)
    torch.manual_seed(0)
    sasrec = SASRecConfig(hidden_size=8, num_layers=1, max_length=6, dropout=0.0)
    save_model(SASRec(sasrec, served_data.num_items), sasrec, served_data.num_items, layout.baselines_dir / "sasrec")
    comirec = ComiRecConfig(hidden_size=12, attention_size=10, num_interests=3, max_length=6)
    save_model(ComiRec(comirec, served_data.num_items), comirec, served_data.num_items, layout.baselines_dir / "comirec")
    return layout.root


def _recommend(*argv: str) -> int:
    args = build_parser().parse_args(["recommend", *argv])
    return args.handler(args)


def test_a_user_gets_the_list_of_their_full_history_and_an_unknown_user_the_popular_items(workspace: Path, served_data, capsys) -> None:
    assert _recommend("--root", str(workspace), "--model", "sasrec", "--user", "u3", "nobody", "-n", "4") == 0
    out = capsys.readouterr().out
    assert "user u3: 9 items in the history" in out
    assert "user nobody (ids here look like u0, u1, u2): not in this workspace's data; the most popular items instead" in out
    catalog = Catalog.of(served_data)
    model = load_model(SASRec, SASRecConfig, workspace / "models" / "baselines" / "sasrec")
    full_history = np.asarray(served_data.sequences.set_index("user_id").loc["u3", "items"], dtype=np.int64)
    for item in ServedModel("sasrec", model, catalog, ServingConfig(), seed=0).recommend([full_history], 4).items[0]:
        assert re.search(rf"{catalog.item_id(item)} +{re.escape(f'{catalog.title(item)} | {catalog.genres(item)}')}\n", out)


def test_explain_shows_each_interest_and_which_one_produced_each_item(workspace: Path, capsys) -> None:
    assert _recommend("--root", str(workspace), "--model", "comirec", "--history", "i01", "i02", "i03", "--explain") == 0
    out = capsys.readouterr().out
    assert "history: 3 items in the history" in out and "3 interests; each shown as its 5 nearest catalog items by dot product" in out
    assert "interest 2 (produced" in out and "recommendations (interest = argmax_k dot product(interest_k, item)):" in out


def test_a_history_file_and_all_users_in_batch(workspace: Path, tmp_path: Path, served_data, capsys) -> None:
    (tmp_path / "history.txt").write_text("# oldest first\ni01\n\ni02\n  i03\n")
    assert _recommend("--root", str(workspace), "--model", "comirec", "--history-file", str(tmp_path / "history.txt"), "-n", "3") == 0
    from_file = capsys.readouterr().out.split("\n", 3)[3]  # after the model, a blank line and the request's name
    assert _recommend("--root", str(workspace), "--model", "comirec", "--history", "i01", "i02", "i03", "-n", "3") == 0
    assert capsys.readouterr().out.split("\n", 3)[3] == from_file

    assert _recommend("--root", str(workspace), "--model", "popularity", "--all-users", "--out", str(tmp_path / "recs.parquet"), "-n", "3") == 0
    recs = pd.read_parquet(tmp_path / "recs.parquet")
    assert list(recs.columns) == ["user_id", "rank", "item_id", "title", "score", "source"]
    assert len(recs) == 3 * len(served_data.sequences) and set(recs["user_id"]) == set(served_data.sequences["user_id"])


@pytest.mark.parametrize(("argv", "message"), [
    (["--history", "i01", "zz9"], "error: --history: unknown item id 'zz9' (not among the"),
    (["--history-file", "{tmp}/missing.txt"], "error: --history-file {tmp}/missing.txt: no such file"),
    (["--history-file", "{tmp}/binary.txt"], "error: --history-file {tmp}/binary.txt: cannot read it as UTF-8 text"),
    (["--history-file", "{tmp}/empty.txt"], "error: --history-file {tmp}/empty.txt: no item ids in it"),
    (["--model", "nosuch", "--user", "u1"], "error: --model 'nosuch': neither an MLflow model URI nor a trained model of this workspace (popularity, comirec, sasrec)"),
    (["--all-users"], "error: --all-users needs --out PATH"),
])
def test_bad_requests_name_what_is_wrong_and_exit_1(workspace: Path, tmp_path: Path, capsys, argv: list[str], message: str) -> None:
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00i01")
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    argv = [arg.format(tmp=tmp_path) for arg in argv]
    assert _recommend("--root", str(workspace), *(["--model", "sasrec"] if "--model" not in argv else []), *argv) == 1
    err = capsys.readouterr().err
    assert message.format(tmp=tmp_path) in err and "Traceback" not in err
