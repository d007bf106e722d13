"""The DVC remote of `.dvc/config`: where it points, and a push → lose everything → pull round trip.

The round trip runs in a throw-away git + DVC project that uses this checkout's `.dvc/config`
unchanged, so its default remote resolves beside that project (inside the test's temporary folder),
never beside the real checkout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from orchestration.dvc_project import repro_environment

ROOT = Path(__file__).resolve().parents[1]
REMOTE_NAME = "storage"
REMOTE_FOLDER = "hymirec-dvc-remote"

# One stage writing a folder (a binary file and a nested text file) and a single file, like our stages.
PRODUCE = """\
import pathlib, random
out = pathlib.Path("out")
(out / "nested").mkdir(parents=True, exist_ok=True)
(out / "blob.bin").write_bytes(random.Random(7).randbytes(50_000) + bytes(range(256)))
(out / "nested" / "notes.txt").write_text("ÿ line one\\r\\nline two\\n", encoding="utf-8")
pathlib.Path("model.bin").write_bytes(random.Random(8).randbytes(3_000))
"""
OUTPUTS = ("out/blob.bin", "out/nested/notes.txt", "model.bin")


def _dvc(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=cwd, env=repro_environment(), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"dvc {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def test_default_remote_is_a_folder_beside_the_checkout() -> None:
    from dvc.repo import Repo

    with Repo(str(ROOT)) as repo:
        project = repo.config.read("repo")  # .dvc/config alone, not a developer's config.local
    assert project["core"]["remote"] == REMOTE_NAME
    assert Path(project["remote"][REMOTE_NAME]["url"]) == ROOT.parent / REMOTE_FOLDER


def test_push_then_pull_restores_byte_identical_outputs(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    _dvc("init", "-q", cwd=project)
    shutil.copy2(ROOT / ".dvc" / "config", project / ".dvc" / "config")
    (project / "produce.py").write_text(PRODUCE, encoding="utf-8")
    stage = {"cmd": "python produce.py", "deps": ["produce.py"], "outs": ["out", "model.bin"]}
    (project / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"produce": stage}}), encoding="utf-8")
    _dvc("repro", cwd=project)
    produced = {name: (project / name).read_bytes() for name in OUTPUTS}

    _dvc("push", cwd=project)  # no -r: the default remote of .dvc/config
    remote = tmp_path / REMOTE_FOLDER
    assert (remote / "files" / "md5").is_dir(), f"nothing pushed to {remote}"

    shutil.rmtree(project / ".dvc" / "cache")
    shutil.rmtree(project / "out")
    (project / "model.bin").unlink()
    assert not any((project / name).exists() for name in OUTPUTS)

    _dvc("pull", cwd=project)
    assert {name: (project / name).read_bytes() for name in OUTPUTS} == produced
    assert "in sync" in _dvc("status", "--cloud", cwd=project)
    assert "up to date" in _dvc("status", cwd=project)  # the pulled outputs are the ones dvc.lock records
