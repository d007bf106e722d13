"""The layers of the code, read statically from the imports (hymirec.stages.dependencies; nothing is imported).

    orchestration/ (Dagster, through dvc repro)  ->  hymirec.cli  ->  hymirec.stages  ->  data_checks  ->  the library

- ``hymirec/`` imports no Dagster and nothing of ``orchestration/``: Dagster runs the stages through DVC;
- only the stages, and the command that dispatches to them (``hymirec.cli``, ``hymirec.__main__``), import
  ``hymirec.stages``: what ``hymirec recommend`` or a benchmark needs from a stage belongs in the library;
- ``data_checks`` imports the library (``hymirec.data``'s schema and readers, ``hymirec.config``), never the
  reverse: the library outside the stages and the command imports no ``data_checks``;
- each subpackage of the library imports nothing from a layer above its own:

      base (config, paths, io)  ->  data  ->  encoders / codebook / models  ->  training  ->  evaluation
      ->  serving  ->  experiments / bench  ->  stages  ->  cli

  except ``hymirec.encoders`` and ``hymirec.models``, which call ``hymirec.training.losses`` (a model's
  ``loss(batch)``, the LoRA adaptation's contrastive loss, which also logs through ``hymirec.training.tracking``).

An import inside a function counts (it still runs); ``importlib.import_module`` with a computed name does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from hymirec.stages.dependencies import imported_names, modules_under

ROOT = Path(__file__).resolve().parents[1]
DAGSTER = ("dagster", "dagster_*", "orchestration")
STAGES_AND_COMMAND = ("hymirec.stages", "hymirec.cli", "hymirec.__main__")
# The library's layers, bottom first; a module may import its own layer and those below it.
LAYERS = (
    ("hymirec.config", "hymirec.paths", "hymirec.io"),
    ("hymirec.data",),
    ("hymirec.encoders", "hymirec.codebook", "hymirec.models"),
    ("hymirec.training",),
    ("hymirec.evaluation",),
    ("hymirec.serving",),
    ("hymirec.experiments", "hymirec.bench"),
    ("hymirec.stages",),
    ("hymirec.cli", "hymirec.__main__"),
)
DOWNWARD_ONLY = (
    "hymirec.data", "hymirec.codebook", "hymirec.training", "hymirec.evaluation", "hymirec.serving",
    "hymirec.experiments", "hymirec.bench",
)


@dataclass(frozen=True)
class Rule:
    """Modules of ``package`` (outside ``exempt``) import nothing matching ``forbidden`` (fnmatch patterns on
    a dotted name or any package above it; an exempt name covers the modules below it)."""

    name: str
    package: str
    forbidden: tuple[str, ...]
    exempt: tuple[str, ...] = ()


def _above(package: str) -> tuple[str, ...]:
    """The packages of every layer above ``package``'s, less ``hymirec.stages`` (its own rule says it)."""
    level = next(i for i, layer in enumerate(LAYERS) if package in layer)
    return tuple(name for layer in LAYERS[level + 1 :] for name in layer if name != "hymirec.stages")


RULES = (
    Rule("hymirec/ knows nothing of Dagster", "hymirec", DAGSTER),
    Rule("only the stages and the command import the stages", "hymirec", ("hymirec.stages",), STAGES_AND_COMMAND),
    Rule("data_checks sits above the library", "hymirec", ("data_checks",), STAGES_AND_COMMAND),
    Rule("data_checks sits below the stages", "data_checks", ("hymirec.stages", "hymirec.cli", "hymirec.__main__", *DAGSTER)),
    *(Rule(f"{package} imports no layer above its own", package, _above(package)) for package in DOWNWARD_ONLY),
)


def _covers(patterns: tuple[str, ...], name: str) -> bool:
    parts = name.split(".")
    return any(fnmatchcase(".".join(parts[: i + 1]), pattern) for i in range(len(parts)) for pattern in patterns)


def violations(rules: tuple[Rule, ...], root: Path) -> list[str]:
    """One line per module and rule it breaks, naming what it imports (``from a import b`` named once, as ``a.b``)."""
    found = []
    for rule in rules:
        for module in modules_under(rule.package, root):
            if _covers(rule.exempt, module):
                continue
            bad = {name for name in imported_names(module, root) if _covers(rule.forbidden, name)}
            shown = sorted(name for name in bad if not any(other.startswith(f"{name}.") for other in bad))
            if shown:
                found.append(f"{module} imports {', '.join(shown)}: {rule.name}")
    return found


def test_the_code_keeps_its_layers() -> None:
    assert violations(RULES, ROOT) == []


def test_the_rules_see_the_whole_library() -> None:
    """Guards the walk itself: a rule over no module passes whatever the code does."""
    modules = modules_under("hymirec", ROOT)
    assert {"hymirec", "hymirec.serving.recommend", "hymirec.bench.serving", "hymirec.data.inbox", "hymirec.stages.common"} <= set(modules)
    assert {"hymirec.evaluation.ranking", "hymirec.experiments.paired"} <= set(modules)
    assert "data_checks.raw_logs" in modules_under("data_checks", ROOT)


# --- the checker on a tiny package -------------------------------------------------------------------

LAYERED = {
    "hymirec/__init__.py": "",
    "hymirec/__main__.py": "from hymirec.cli import main\n",
    "hymirec/cli.py": "import importlib\nfrom hymirec.stages import demo\n\ndef validate():\n    from data_checks.suite import check\n",
    "hymirec/config.py": "",
    "hymirec/data/__init__.py": "from .schema import ITEM_ID\n",
    "hymirec/data/schema.py": "ITEM_ID = 'item_id'\n",
    "hymirec/stages/__init__.py": "",
    "hymirec/stages/demo.py": "from data_checks.suite import check\nfrom hymirec.data import schema\nfrom . import common\n",
    "hymirec/stages/common.py": "import numpy as np\n",
    "hymirec/training/__init__.py": "",
    "hymirec/training/losses.py": "import torch\n",
    "hymirec/training/loop.py": "from hymirec.data.schema import ITEM_ID\nfrom hymirec.training import losses\n",
    "hymirec/evaluation/__init__.py": "",
    "hymirec/evaluation/ranking.py": "from hymirec.data.schema import ITEM_ID\nfrom hymirec import config\n",
    "hymirec/serving/__init__.py": "",
    "hymirec/serving/recommend.py": (
        "from hymirec.data.schema import ITEM_ID\nfrom hymirec.evaluation import ranking\nfrom hymirec.training import losses\n"
    ),
    "hymirec/experiments/__init__.py": "",
    "hymirec/experiments/paired.py": "from hymirec.evaluation.ranking import ITEM_ID\nfrom hymirec.bench import timing\n",
    "data_checks/__init__.py": "",
    "data_checks/suite.py": "from hymirec.config import DataConfig\nfrom hymirec.data.schema import ITEM_ID\n",
}


def _write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def test_a_layered_package_passes(tmp_path: Path) -> None:
    assert violations(RULES, _write(tmp_path, LAYERED)) == []


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        ("hymirec/serving/served_model.py", "import dagster as dg\n",
         "hymirec.serving.served_model imports dagster: hymirec/ knows nothing of Dagster"),
        ("hymirec/bench/__init__.py", "def run():\n    from dagster_mlflow import mlflow_tracking\n",
         "hymirec.bench imports dagster_mlflow.mlflow_tracking: hymirec/ knows nothing of Dagster"),
        ("hymirec/assets.py", "from orchestration.resources import DvcProject\n",
         "hymirec.assets imports orchestration.resources.DvcProject: hymirec/ knows nothing of Dagster"),
        ("hymirec/serving/recommend.py", "from hymirec.stages.common import load\n",
         "hymirec.serving.recommend imports hymirec.stages.common.load: only the stages and the command import the stages"),
        ("hymirec/bench/serving.py", "def run():\n    from ..stages import demo\n",
         "hymirec.bench.serving imports hymirec.stages.demo: only the stages and the command import the stages"),
        ("hymirec/serving/explain.py", "import hymirec.stages\n",
         "hymirec.serving.explain imports hymirec.stages: only the stages and the command import the stages"),
        ("hymirec/data/inbox.py", "from data_checks.suite import check\n",
         "hymirec.data.inbox imports data_checks.suite.check: data_checks sits above the library"),
        ("hymirec/data/__init__.py", "import data_checks\n", "hymirec.data imports data_checks: data_checks sits above the library"),
        ("data_checks/suite.py", "from hymirec import cli\n", "data_checks.suite imports hymirec.cli: data_checks sits below the stages"),
        ("hymirec/evaluation/ranking.py", "from hymirec.serving.registry import Registry\n",
         "hymirec.evaluation.ranking imports hymirec.serving.registry.Registry: hymirec.evaluation imports no layer above its own"),
        ("hymirec/evaluation/cost.py", "def run():\n    from hymirec.bench import timing\n",
         "hymirec.evaluation.cost imports hymirec.bench.timing: hymirec.evaluation imports no layer above its own"),
        ("hymirec/serving/recommend.py", "from hymirec.experiments import paired\n",
         "hymirec.serving.recommend imports hymirec.experiments.paired: hymirec.serving imports no layer above its own"),
        ("hymirec/experiments/paired.py", "from hymirec import cli\n",
         "hymirec.experiments.paired imports hymirec.cli: hymirec.experiments imports no layer above its own"),
        ("hymirec/data/schema.py", "from hymirec.models.sasrec import SASRec\n",
         "hymirec.data.schema imports hymirec.models.sasrec.SASRec: hymirec.data imports no layer above its own"),
        ("hymirec/training/loop.py", "def fit():\n    from hymirec.evaluation.ranking import evaluate\n",
         "hymirec.training.loop imports hymirec.evaluation.ranking.evaluate: hymirec.training imports no layer above its own"),
    ],
)
def test_a_planted_violation_is_named(tmp_path: Path, path: str, source: str, expected: str) -> None:
    root = _write(tmp_path, {**LAYERED, path: source})
    assert violations(RULES, root) == [expected]
