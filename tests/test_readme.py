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


DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "results" / "README.md"]


def test_readme_is_a_screen_of_decisions_with_the_two_commands_first() -> None:
    lines = README.splitlines()
    assert len(lines) <= 250
    head = "\n".join(lines[:60])
    assert "make run" in head and "make test" in head


def test_the_results_tables_are_what_the_metrics_files_they_cite_give() -> None:
    import importlib.util

    from hymirec.config import load_config

    markers = list(re.finditer(r"<!-- results-table: benchmarks/readme_table.py ([^>]*?) -->\n(.*?)<!-- end results-table -->", README, re.S))
    assert markers, "README.md has no generated results table"
    spec = importlib.util.spec_from_file_location("readme_table", ROOT / "benchmarks" / "readme_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    interests = load_config(ROOT / "configs" / "benchmark_ml1m.yaml").llm.num_interests  # the label states the config's K
    for marker in markers:  # e.g. the seeds' means, and seed 42's every model
        runs = [ROOT / run for run in marker.group(1).split()]
        assert runs and all((run / "metrics.json").exists() for run in runs)  # one run per seed published so far
        for run in runs:  # the text cites every metrics file the table is made from
            assert f"]({run.relative_to(ROOT)}/metrics.json)" in README, run.name
        assert marker.group(2) == module.table(runs)
        assert "| SASRec (`sasrec`) |" in marker.group(2) and f"| HyMiRec (K = {interests}) (`hymirec`) |" in marker.group(2)
        assert ("±" in marker.group(2)) == (len(runs) > 1)  # a spread only where there are seeds to spread over


def test_every_relative_link_points_to_an_existing_file() -> None:
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
            if re.match(r"[a-z]+://", target) or target.startswith("#"):
                continue
            assert (doc.parent / target.split("#")[0]).exists(), f"{doc.relative_to(ROOT)}: {target}"


def test_the_docs_cite_no_internal_notes() -> None:
    for doc in DOCS:
        text = doc.read_text()
        for name in ("DESIGN.md", "STACK.md", "../shared"):
            assert name not in text, f"{doc.relative_to(ROOT)} mentions {name}"
