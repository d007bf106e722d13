"""A stage whose data fails its Great Expectations suite exits non-zero, names the rule, and leaves
the previous good outputs byte-identical."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hymirec.cli import main
from hymirec.data.schema import RawLogs
from hymirec.paths import Layout
from hymirec.stages import validated_sequences

DATA = Path(__file__).resolve().parents[1] / "data"
BAD_LOGS = sorted(path for path in (DATA / "bad_logs").iterdir() if path.is_dir())


def _files_config(tmp_path: Path, logs: Path) -> Path:
    interactions = next(logs.glob("interactions.*"))
    items = next(logs.glob("items.*"))
    config = {"data": {"source": "files", "interactions_path": str(interactions), "items_path": str(items)}}
    path = tmp_path / f"{logs.name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


@pytest.fixture
def workspace_with_good_raw_logs(tmp_path: Path) -> Layout:
    layout = Layout(tmp_path / "workspace")
    assert main(["stage", "raw_logs", "-c", str(_files_config(tmp_path, DATA / "good_logs")), "--root", str(layout.root)]) == 0
    return layout


@pytest.mark.parametrize("logs", BAD_LOGS, ids=lambda path: path.name)
def test_bad_raw_logs_are_rejected_and_good_outputs_kept(logs: Path, workspace_with_good_raw_logs: Layout, tmp_path: Path, capsys) -> None:
    layout = workspace_with_good_raw_logs
    before = _snapshot(layout.raw_dir)
    capsys.readouterr()

    exit_code = main(["stage", "raw_logs", "-c", str(_files_config(tmp_path, logs)), "--root", str(layout.root)])

    message = capsys.readouterr().err
    assert exit_code == 1
    assert logs.name in message and str(logs) in message
    assert _snapshot(layout.raw_dir) == before


def test_invalid_sequences_are_rejected_and_good_outputs_kept(tmp_path: Path, tiny_raw: RawLogs, monkeypatch, capsys) -> None:
    from hymirec.io import write_parquet
    from hymirec.config import HyMiRecConfig

    layout = Layout(tmp_path)
    write_parquet(tiny_raw.interactions, layout.raw_interactions)
    write_parquet(tiny_raw.items, layout.raw_items)
    validated_sequences.run(HyMiRecConfig(), layout)
    before = _snapshot(layout.sequences_dir)

    real_write = validated_sequences.write_sequences

    def write_with_a_leak(raw_paths, items_path, out_dir, *args):
        metrics = real_write(raw_paths, items_path, out_dir, *args)
        leaking = pd.read_parquet(out_dir / "sequences.parquet")
        leaking.at[0, "items"] = np.array([*leaking.at[0, "items"][:-1], leaking.at[0, "items"][0]])  # test item = first item
        leaking.to_parquet(out_dir / "sequences.parquet", index=False)
        return metrics

    monkeypatch.setattr(validated_sequences, "write_sequences", write_with_a_leak)
    config_path = tmp_path / "c.yaml"
    config_path.write_text("{}\n")
    assert main(["stage", "validated_sequences", "-c", str(config_path), "--root", str(tmp_path)]) == 1
    assert "test_item_not_in_input" in capsys.readouterr().err
    assert _snapshot(layout.sequences_dir) == before
