"""``python -m orchestration.experiment``'s refusals: they come before DVC records anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.experiment import main

ROOT = Path(__file__).resolve().parents[2]


def test_a_stage_dvc_yaml_lacks_is_refused_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["configs/ml100k.yaml", "--stage", "llm_modle", "--root", str(ROOT)])
    assert exited.value.code == 2
    assert "has no stage 'llm_modle'" in capsys.readouterr().err


def test_a_stage_without_a_config_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--run-queue", "--stage", "llm_model", "--root", str(ROOT)])
    assert exited.value.code == 2
    assert "--stage goes with a config file" in capsys.readouterr().err
