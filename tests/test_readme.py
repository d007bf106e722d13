"""The README's commands and paths exist, so it cannot silently drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_make_targets_exist() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"`make ([a-z-]+)`", README)) | set(re.findall(r"^make ([a-z-]+)", README, re.M))
    assert {"run", "test", "dagster", "mlflow-ui"} <= targets
    for target in targets:
        assert re.search(rf"^{target}:", makefile, re.M), target


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_workspace_tree_paths_exist() -> None:
    tree = README.split("## Workspace", 1)[1].split("```")[1]
    stack: list[tuple[int, str]] = []
    for line in tree.strip("\n").splitlines():
        name = line.split()[0]
        indent = len(line) - len(line.lstrip())
        stack = [(level, part) for level, part in stack if level < indent]
        path = "/".join(part.rstrip("/") for _, part in stack) + ("/" if stack else "") + name.rstrip("/")
        assert (ROOT / path).exists(), path
        if name.endswith("/"):
            stack.append((indent, name))


def test_stage_table_lists_every_dvc_stage() -> None:
    from hymirec.paths import STAGES

    for stage in STAGES:
        assert f"| `{stage}` |" in README, stage
