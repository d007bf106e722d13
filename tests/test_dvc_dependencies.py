"""dvc.yaml lists every module a stage's code imports and every config section it reads.

Otherwise ``dvc repro`` skips a stage whose code or settings changed and reports stale numbers. The
import closure and the sections read are derived statically (hymirec.stages.dependencies).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hymirec.config import HyMiRecConfig
from hymirec.paths import STAGES
from hymirec.stages.dependencies import PROJECT_PACKAGES, closure_paths, config_sections_read, stage_module, uncovered

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "build/config.yaml"  # hymirec.paths.Layout.resolved_config, relative to the root
COMPOSER = "resolved_config"  # reads the whole chosen config file (params.yaml's `config`), not sections of it
# `tracking` only names the MLflow experiment a run is filed under: it changes no file DVC tracks, so
# renaming the experiment must not re-run (and retrain) every stage.
SECTIONS_NOT_PARAMS = {"tracking"}


def _stages() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _code_deps(stage: dict) -> list[str]:
    return [dep for dep in stage["deps"] if dep.split("/")[0] in PROJECT_PACKAGES]


@pytest.mark.parametrize("name", STAGES)
def test_deps_cover_the_stage_import_closure(name: str) -> None:
    missing = uncovered(closure_paths(stage_module(name), ROOT), _stages()[name]["deps"])
    assert not missing, f"dvc.yaml stage {name!r} imports these modules but does not list them in deps: {missing}"


@pytest.mark.parametrize("name", STAGES)
def test_listed_code_deps_exist(name: str) -> None:
    absent = [dep for dep in _code_deps(_stages()[name]) if not (ROOT / dep).exists()]
    assert not absent, f"dvc.yaml stage {name!r} lists code deps that do not exist: {absent}"


def test_the_composer_reads_every_config_file() -> None:
    """Any edit under configs/ (a parent in an ``extends:`` chain included) re-runs resolved_config, and a
    changed choice in params.yaml too; the stages below it re-run only if their sections changed."""
    stage = _stages()[COMPOSER]
    assert "configs" in stage["deps"] and stage["params"] == ["config"]


@pytest.mark.parametrize("name", [stage for stage in STAGES if stage != COMPOSER])
def test_params_cover_the_config_sections_read(name: str) -> None:
    (params,) = _stages()[name]["params"]
    missing = sorted(config_sections_read(stage_module(name), ROOT) - SECTIONS_NOT_PARAMS - set(params[CONFIG]))
    assert not missing, f"dvc.yaml stage {name!r} reads config sections it does not list in params: {missing}"


def test_every_stage_reads_some_section() -> None:
    """Guards the analysis itself: a rename of the root config type would otherwise find nothing anywhere."""
    for name in STAGES:
        if name == COMPOSER:
            continue
        assert config_sections_read(stage_module(name), ROOT) - SECTIONS_NOT_PARAMS, name


# --- the analysis on a tiny package ------------------------------------------------------------------

FILES = {
    "hymirec/__init__.py": "",
    "hymirec/config.py": "class HyMiRecConfig: ...\nclass DataConfig: ...\n",
    "hymirec/unused.py": "",
    "hymirec/lazy.py": "",
    "hymirec/helpers.py": (
        "from hymirec.config import HyMiRecConfig\n"
        "def tracked(config: HyMiRecConfig):\n    return inner(config)\n"
        "def inner(cfg):\n    return cfg.tracking\n"
    ),
    "hymirec/lib/__init__.py": "from .core import thing\n",
    "hymirec/lib/core.py": "from .. import config\n",
    "hymirec/lib/extra.py": "",
    "hymirec/lib/other.py": "",
    "hymirec/stages/__init__.py": "import hymirec.helpers\n",
    "hymirec/stages/demo.py": (
        "import os\n"
        "from hymirec.config import DataConfig, HyMiRecConfig\n"
        "from hymirec.lib import extra\n"
        "from hymirec.helpers import tracked\n"
        "def load(config: DataConfig):\n    return config.seed  # a section's field, not the root's\n"
        "def run(config: HyMiRecConfig, layout):\n"
        "    import hymirec.lazy\n"
        "    settings = config.codebook\n"
        "    windows = lambda epoch: config.seed + epoch\n"
        "    def nested(config):  # shadows the root config with an unannotated one: still a root read\n"
        "        return config.llm\n"
        "    def other(config: DataConfig):\n        return config.sasrec\n"
        "    tracked(config)\n"
        "    return config.model_dump(), config.not_a_section\n"
    ),
}
SECTIONS = {"seed", "codebook", "llm", "sasrec", "tracking", "data"}


@pytest.fixture
def tiny_repo(tmp_path: Path) -> Path:
    for relative, text in FILES.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    return tmp_path


def test_closure_follows_submodules_relative_lazy_imports_and_packages(tiny_repo: Path) -> None:
    assert closure_paths("hymirec.stages.demo", tiny_repo) == {
        "hymirec/__init__.py",
        "hymirec/config.py",
        "hymirec/helpers.py",
        "hymirec/lazy.py",  # imported inside run()
        "hymirec/lib/__init__.py",  # package of `from hymirec.lib import extra`
        "hymirec/lib/core.py",  # relative import in lib/__init__.py
        "hymirec/lib/extra.py",  # a submodule named after `import`
        "hymirec/stages/__init__.py",
        "hymirec/stages/demo.py",
    }


def test_a_listed_folder_covers_its_files() -> None:
    paths = {"hymirec/models/llm.py", "hymirec/io.py", "hymirec/iox.py"}
    assert uncovered(paths, ["hymirec/models", "hymirec/io.py", "hymirec/io"]) == ["hymirec/iox.py"]


def test_sections_read_on_the_root_config_and_through_called_functions(tiny_repo: Path) -> None:
    assert config_sections_read("hymirec.stages.demo", tiny_repo, SECTIONS) == {"codebook", "seed", "llm", "tracking"}


def test_dvc_sections_are_root_config_fields() -> None:
    assert SECTIONS_NOT_PARAMS <= set(HyMiRecConfig.model_fields)
