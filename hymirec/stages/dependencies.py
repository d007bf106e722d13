"""What each pipeline stage's code depends on, read statically from the source (``ast``, nothing imported).

``dvc repro`` re-runs a stage only when one of its ``deps`` or ``params`` changed, so ``dvc.yaml`` must list
every project module a stage imports, directly or not, and every config section it reads;
``tests/test_dvc_dependencies.py`` checks both against what this module derives:

- ``import_closure("hymirec.stages.codebook")``: the project modules (``hymirec``, ``data_checks``) that
  importing the stage runs — ``import x.y``, ``from x import y`` (``y`` a name or a submodule), relative
  imports, imports inside functions (lazy imports still run), and every package ``__init__`` on the way.
- ``config_sections_read("hymirec.stages.codebook")``: the top-level ``HyMiRecConfig`` sections read as
  ``config.<section>`` / ``cfg.<section>`` in the stage module and in the project functions it calls.

``imported_names`` (every module a file imports, third-party ones included) and ``modules_under`` also
serve the layer rules of tests/test_layers.py (no Dagster in ``hymirec/``, no ``hymirec.stages`` in the
library, ``data_checks`` above ``hymirec.data``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = ("hymirec", "data_checks")
ROOT_CONFIG = "HyMiRecConfig"
CONFIG_NAMES = ("config", "cfg")  # an unannotated parameter with one of these names is taken to be the root config


def stage_module(stage: str) -> str:
    return f"hymirec.stages.{stage}"


def is_project_module(module: str) -> bool:
    return module.split(".")[0] in PROJECT_PACKAGES


@cache
def module_path(module: str, root: Path = ROOT) -> Path | None:
    """``a.b`` -> ``a/b.py`` or ``a/b/__init__.py`` under ``root``; None for a name that is not a module."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@cache
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _with_parents(module: str) -> list[str]:
    """Importing ``a.b.c`` runs ``a``, ``a.b`` and ``a.b.c``."""
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _package_of(module: str, root: Path) -> str:
    path = module_path(module, root)
    is_package = path is not None and path.name == "__init__.py"
    return module if is_package else module.rpartition(".")[0]


def _resolve_from(node: ast.ImportFrom, module: str, root: Path) -> str:
    """The absolute module named by ``from <...> import``, relative levels resolved."""
    if not node.level:
        return node.module or ""
    package = _package_of(module, root).split(".")
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imported_names(module: str, root: Path = ROOT) -> set[str]:
    """Every absolute name ``module`` imports anywhere in its body (functions included), project or not.

    ``from pkg import name`` gives ``pkg`` and ``pkg.name``: ``name`` may be a submodule or an attribute.
    """
    path = module_path(module, root)
    if path is None:
        raise ModuleNotFoundError(f"{module}: no {module.replace('.', '/')}.py or package under {root}")
    names: set[str] = set()
    for node in ast.walk(_parse(path)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve_from(node, module, root)
            names.add(source)
            names.update(f"{source}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def direct_imports(module: str, root: Path = ROOT) -> set[str]:
    """Project modules that running ``module`` imports itself, anywhere in its body (functions included)."""
    found: set[str] = set()
    for name in imported_names(module, root):
        if is_project_module(name):  # `from pkg import name`: kept as a module only when such a file exists
            found.update(m for m in _with_parents(name) if module_path(m, root) is not None)
    found.discard(module)
    return found


def modules_under(package: str, root: Path = ROOT) -> list[str]:
    """Every module in ``package``'s folder and below, sorted; a package ``__init__`` under the package's name."""
    modules = []
    for path in sorted(root.joinpath(*package.split(".")).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


def import_closure(module: str, root: Path = ROOT) -> set[str]:
    """``module``, its parent packages, and every project module they import, transitively."""
    pending = [m for m in _with_parents(module) if module_path(m, root) is not None]
    seen: set[str] = set()
    while pending:
        current = pending.pop()
        if current not in seen:
            seen.add(current)
            pending.extend(direct_imports(current, root) - seen)
    return seen


def closure_paths(module: str, root: Path = ROOT) -> set[str]:
    """The import closure as repository-relative POSIX paths (``hymirec/stages/__init__.py``, ...)."""
    return {module_path(m, root).relative_to(root).as_posix() for m in import_closure(module, root)}


def uncovered(paths: Iterable[str], deps: Iterable[str]) -> list[str]:
    """``paths`` that no dep lists, either as the file itself or as a folder above it."""
    listed = [dep.rstrip("/") for dep in deps]
    return sorted(p for p in paths if not any(p == dep or p.startswith(f"{dep}/") for dep in listed))


# --- config sections ---------------------------------------------------------------------------------


def _is_root_config(annotation: ast.expr | None) -> bool:
    if isinstance(annotation, ast.Name):
        return annotation.id == ROOT_CONFIG
    if isinstance(annotation, ast.Attribute):
        return annotation.attr == ROOT_CONFIG
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return annotation.value.split(".")[-1] == ROOT_CONFIG
    return False


class _SectionReads(ast.NodeVisitor):
    """``<root config>.<section>`` reads and the names called, tracking which names hold the root config.

    A parameter annotated ``HyMiRecConfig``, or unannotated and named ``config``/``cfg``, holds it;
    nested functions see their enclosing function's names unless a parameter shadows them.
    """

    def __init__(self, sections: frozenset[str]) -> None:
        self.sections = sections
        self.scopes: list[frozenset[str]] = [frozenset()]
        self.read: set[str] = set()
        self.called: set[str] = set()

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        names = set(self.scopes[-1])
        arguments = node.args
        for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]:
            if arg is None:
                continue
            holds_root = _is_root_config(arg.annotation) or (arg.annotation is None and arg.arg in CONFIG_NAMES)
            (names.add if holds_root else names.discard)(arg.arg)
        self.scopes.append(frozenset(names))
        self.generic_visit(node)
        self.scopes.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.value, ast.Name) and node.value.id in self.scopes[-1] and node.attr in self.sections:
            self.read.add(node.attr)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name):
            self.called.add(node.func.id)
        self.generic_visit(node)


def _root_config_sections() -> frozenset[str]:
    from hymirec.config import HyMiRecConfig  # pydantic only; kept lazy so the import analysis needs nothing

    return frozenset(HyMiRecConfig.model_fields)


def _project_names(module: str, tree: ast.Module, root: Path) -> dict[str, tuple[str, str]]:
    """Local name -> (module, function) for top-level functions defined in or from-imported into ``module``."""
    names = {node.name: (module, node.name) for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _resolve_from(node, module, root)
            if is_project_module(source):
                names.update({alias.asname or alias.name: (source, alias.name) for alias in node.names if alias.name != "*"})
    return names


def _function_reads(module: str, function: str, sections: frozenset[str], root: Path, seen: set[tuple[str, str]]) -> set[str]:
    """Sections read by ``module.function`` and by the project functions it calls, transitively."""
    if (module, function) in seen or (path := module_path(module, root)) is None:
        return set()
    seen.add((module, function))
    tree = _parse(path)
    definition = next((n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == function), None)
    if definition is None:  # a class, a constant or a re-export: not followed
        return set()
    visitor = _SectionReads(sections)
    visitor.visit(definition)
    return visitor.read | _called_reads(visitor.called, _project_names(module, tree, root), sections, root, seen)


def _called_reads(called: set[str], names: dict[str, tuple[str, str]], sections: frozenset[str], root: Path, seen: set[tuple[str, str]]) -> set[str]:
    reads: set[str] = set()
    for name in called & names.keys():
        reads |= _function_reads(*names[name], sections, root, seen)
    return reads


def config_sections_read(module: str, root: Path = ROOT, sections: Iterable[str] | None = None) -> set[str]:
    """Top-level config sections that ``module``'s code reads, itself or through project functions it calls.

    Only reads on the root config object count: a function that receives one section (``config: DataConfig``)
    reads fields of that section, not sections. Whole-config uses (``config.model_dump()``) are not reads.
    """
    sections = frozenset(sections) if sections is not None else _root_config_sections()
    path = module_path(module, root)
    if path is None:
        raise ModuleNotFoundError(f"{module}: no {module.replace('.', '/')}.py or package under {root}")
    tree = _parse(path)
    visitor = _SectionReads(sections)
    visitor.visit(tree)
    return visitor.read | _called_reads(visitor.called, _project_names(module, tree, root), sections, root, set())
