"""Run one Great Expectations suite on an in-memory frame; turn its result into ``RuleFailure``s.

Each suite is a list of ``Rule``s. A rule is what a user sees in an error (``timestamp_is_integer``);
it holds one or more GE expectations, each tagged ``meta={"rule": name}`` so the validation result
maps back to it. The suite validates a whole-dataframe batch. When a docs folder is given, it runs
through a Checkpoint whose ``UpdateDataDocsAction`` writes Data Docs HTML there (site
``hymirec_docs``; the ephemeral context's default ``local_site`` is not created at all).

The GE import (~3 s) is paid once per process. Contexts are ephemeral, built once per process and
docs folder, then reused. With a docs folder, the context keeps its suites and validation results as
JSON under ``<docs>/gx_store/``, so the site's index lists the runs of every process that wrote there
(stages run in separate processes). Progress bars and analytics are off.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data_checks.errors import MAX_SAMPLE_ROWS, RowNumbering, RuleFailure

logger = logging.getLogger(__name__)

DOCS_SITE = "hymirec_docs"
DATASOURCE = "hymirec"
BATCH_DEFINITION = "whole_frame"
STORE_FOLDER = "gx_store"  # under the docs folder: suites and validation results as JSON
# SUMMARY returns the first 20 offending row indices per expectation: enough for 5 samples per rule
# without building million-row lists when every row is bad.
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 20}

_LOCK = threading.Lock()


@dataclass(frozen=True)
class Rule:
    """A named rule: GE expectations over the checked frame, and the columns shown for a bad row.

    ``show`` names columns of the *display* frame (the data as the user wrote it), which is
    row-aligned with the checked frame (which may hold normalised or derived columns).
    """

    name: str
    expectations: tuple[Any, ...]
    show: tuple[str, ...]
    description: str = ""


def expectations():
    """``great_expectations.expectations``, imported on first use (the import takes seconds)."""
    import great_expectations as gx

    return gx.expectations


def text_source_numbering(source: str) -> RowNumbering:
    """Rows of text files are reported as line numbers (header = line 1); others as 0-based rows."""
    suffix = Path(str(source)).suffix.lower()
    return "line" if suffix in {".csv", ".tsv", ".txt", ".dat", ".inter", ".item", ".user"} else "row"


@dataclass(frozen=True)
class Batch:
    """Rows ``first_row`` … of a table: the checked frame GE validates and the display frame (the data as the
    user wrote it) whose rows a failure shows; both with a RangeIndex, row-aligned. ``rows`` (default
    ``first_row + index``) numbers each row in the whole table, for batches whose rows are not contiguous."""

    checked: pd.DataFrame
    display: pd.DataFrame
    first_row: int = 0
    rows: np.ndarray | None = None

    def row(self, index: int) -> int:
        return self.first_row + index if self.rows is None else int(self.rows[index])


def run_suite(
    frame: pd.DataFrame,
    rules: Sequence[Rule],
    *,
    suite_name: str,
    source: str,
    display: pd.DataFrame,
    row_numbering: RowNumbering,
    docs_dir: Path | None = None,
    source_columns: Sequence[str] | None = None,
) -> list[RuleFailure]:
    """Validate ``frame`` against ``rules``; return one ``RuleFailure`` per broken rule, in rule order.

    ``frame`` and ``display`` must share a RangeIndex (GE reports offending rows by index label).
    ``source_columns`` (default: ``display``'s) are listed when a required column is missing.
    """
    return run_suite_in_batches(
        [(Batch(frame, display), rules)],
        suite_name=suite_name,
        source=source,
        row_numbering=row_numbering,
        docs_dir=docs_dir,
        source_columns=list(display.columns if source_columns is None else source_columns),
    )


def run_suite_in_batches(
    batches: Iterable[tuple[Batch, Sequence[Rule]]],
    *,
    suite_name: str,
    source: str,
    row_numbering: RowNumbering,
    source_columns: Sequence[str],
    docs_dir: Path | None = None,
) -> list[RuleFailure]:
    """``run_suite`` over a table read batch by batch, each with its rules (the same names in the same order
    every batch): GE validates one batch at a time, and a rule's counts, rows and messages are those of the
    whole table (``unexpected_count`` summed over the batches, ``element_count`` the rows of all batches, those
    that passed included, the first offending rows of all batches)."""
    outcomes: dict[str, dict[int, dict[str, Any]]] = {}
    rule_order: list[Rule] = []
    rows = 0
    for batch, rules in batches:
        if not rule_order:
            rule_order = list(rules)
        rows += len(batch.checked)
        by_name = {rule.name: rule for rule in rules}
        for name, results in _validate(batch.checked, rules, suite_name=suite_name, docs_dir=docs_dir).items():
            rule = by_name[name]
            shown = [column for column in rule.show if column in batch.display.columns]
            for position, result in results:
                merged = outcomes.setdefault(rule.name, {}).setdefault(position, {"samples": {}})
                _merge(merged, result, batch, shown, row_numbering)
    for merged in (outcome for by_position in outcomes.values() for outcome in by_position.values()):
        if "unexpected_count" in merged:  # of every row of the table, the batches that passed included
            merged["element_count"] = rows
    logger.info("suite %s on %s: %d rules checked, %d broken", suite_name, source, len(rule_order), len(outcomes))
    return [
        _failure(rule, outcomes[rule.name], source=source, row_numbering=row_numbering, source_columns=list(source_columns))
        for rule in rule_order
        if rule.name in outcomes
    ]


def _validate(frame: pd.DataFrame, rules: Sequence[Rule], *, suite_name: str, docs_dir: Path | None) -> dict[str, list[tuple[int, Any]]]:
    """GE's failed results for one frame, per rule: (position of the expectation in the rule, result)."""
    import great_expectations as gx

    for rule in rules:
        for position, expectation in enumerate(rule.expectations):
            expectation.meta = {**(expectation.meta or {}), "rule": rule.name, "position": position}
            if rule.description and not expectation.notes:
                expectation.notes = f"Rule `{rule.name}`: {rule.description}"

    suite = gx.ExpectationSuite(name=suite_name, expectations=[e for rule in rules for e in rule.expectations])
    with _LOCK:
        context = _context(None if docs_dir is None else Path(docs_dir).resolve())
        batch_definition = _batch_definition(context, suite_name)
        if docs_dir is None:
            # No docs: validate the batch directly (the Checkpoint's store bookkeeping halves the speed).
            batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
            suite_result = batch.validate(suite, result_format=RESULT_FORMAT)
        else:
            suite = context.suites.add_or_update(suite)
            definition = context.validation_definitions.add_or_update(
                gx.ValidationDefinition(name=suite_name, data=batch_definition, suite=suite)
            )
            checkpoint = context.checkpoints.add_or_update(
                gx.Checkpoint(
                    name=suite_name,
                    validation_definitions=[definition],
                    actions=[gx.checkpoint.UpdateDataDocsAction(name="update_data_docs", site_names=[DOCS_SITE])],
                    result_format=RESULT_FORMAT,
                )
            )
            (suite_result,) = checkpoint.run(batch_parameters={"dataframe": frame}).run_results.values()

    failed: dict[str, list[tuple[int, Any]]] = {}
    for result in suite_result.results:
        if not result.success:
            meta = result.expectation_config.meta
            failed.setdefault(meta["rule"], []).append((int(meta["position"]), result))
    return failed


def _merge(merged: dict[str, Any], result: Any, batch: Batch, shown: list[str], row_numbering: RowNumbering) -> None:
    """Add one batch's failed result of an expectation to what the earlier batches gave."""
    config, outcome = result.expectation_config, result.result or {}
    # meta "target" names what a message calls the checked column (a per-row flag stands for the column it is about)
    merged["type"], merged["target"] = config.type, (config.meta or {}).get("target") or _target(config.kwargs)
    error = _exception_message(result.exception_info)
    if error is not None:
        merged["error"] = error
    elif "unexpected_count" in outcome:
        merged["unexpected_count"] = merged.get("unexpected_count", 0) + int(outcome["unexpected_count"])
        for index in (outcome.get("partial_unexpected_index_list") or [])[: RESULT_FORMAT["partial_unexpected_count"]]:
            row = batch.row(int(index))
            merged["samples"][row] = sample_row(batch.display, int(index), shown, row_numbering, row=row)
        merged["samples"] = {row: merged["samples"][row] for row in sorted(merged["samples"])[: RESULT_FORMAT["partial_unexpected_count"]]}
    elif "observed_value" in outcome:
        observed = outcome["observed_value"]
        merged["observed_value"] = observed + merged["observed_value"] if config.type == "expect_table_row_count_to_be_between" and "observed_value" in merged else observed


def _failure(
    rule: Rule,
    outcomes: dict[int, dict[str, Any]],
    *,
    source: str,
    row_numbering: RowNumbering,
    source_columns: list[str],
) -> RuleFailure:
    details: list[str] = []
    missing: list[str] = []
    samples: dict[int, dict[str, Any]] = {}
    counts: list[int] = []
    for _, outcome in sorted(outcomes.items()):
        target = outcome["target"]
        if "error" in outcome:
            details.append(f"{target}: could not be checked: {outcome['error']}")
        elif outcome["type"] == "expect_column_to_exist":
            missing.append(repr(target))
        elif "unexpected_count" in outcome:
            counts.append(outcome["unexpected_count"])
            samples.update(outcome["samples"])
            count = f"{outcome['unexpected_count']} of {outcome['element_count']} rows"
            details.append(f"{target}: {count}" if len(rule.expectations) > 1 else count)
        elif outcome["type"] == "expect_table_row_count_to_be_between":
            details.append(f"{outcome.get('observed_value')} rows")
        elif "observed_value" in outcome:
            details.append(f"{target}: observed {outcome['observed_value']!r}")
        else:
            details.append(f"{target}: failed")
    if missing:
        plural = "s" if len(missing) > 1 else ""
        details.insert(0, f"missing column{plural} {', '.join(missing)}; columns found: {', '.join(map(str, source_columns)) or 'none'}")
    return RuleFailure(
        file=source,
        rule=rule.name,
        sample_rows=tuple(samples[row] for row in sorted(samples)[:MAX_SAMPLE_ROWS]),
        detail="; ".join(details),
        row_numbering=row_numbering,
        unexpected_count=max(counts) if counts else None,
    )


def _exception_message(info: Any) -> str | None:
    """The message of an exception GE caught while computing an expectation's metrics, if any.

    GE 1.x reports either ``{"raised_exception": ..., "exception_message": ...}`` or one such dict
    per metric, keyed by the metric's id.
    """
    if not isinstance(info, dict):
        return None
    for entry in [info, *info.values()]:
        if isinstance(entry, dict) and entry.get("raised_exception"):
            return str(entry.get("exception_message") or "error").strip().splitlines()[-1]
    return None


def _target(kwargs: dict) -> str:
    if "column" in kwargs:
        return str(kwargs["column"])
    if "column_list" in kwargs:
        return "(" + ", ".join(map(str, kwargs["column_list"])) + ")"
    if "column_A" in kwargs:
        return f"{kwargs['column_A']} vs {kwargs['column_B']}"
    return "table"


def sample_row(
    display: pd.DataFrame, index: int, columns: list[str], row_numbering: RowNumbering, *, row: int | None = None
) -> dict[str, Any]:
    """Row ``index`` of ``display`` as a ``RuleFailure`` sample: its number as the file counts it (``row``: its
    0-based row in the whole table, default ``index``), and ``columns``."""
    row = index if row is None else row
    return {"row": row + 2 if row_numbering == "line" else row, **{column: _plain(display.at[index, column]) for column in columns}}


def _plain(value: Any) -> Any:
    """JSON-friendly Python value for messages and metadata (numpy scalars and arrays unwrapped)."""
    if isinstance(value, np.ndarray):
        return [_plain(item) for item in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return value


@functools.cache
def _context(docs_dir: Path | None):
    """An ephemeral GE context, once per process and docs folder; Data Docs go to ``docs_dir``."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    defaults = InMemoryStoreBackendDefaults(init_temp_docs_sites=False)
    stores, sites = defaults.stores, {}
    if docs_dir is not None:
        # Suites and results are kept beside the HTML, so the index lists what every process
        # wrote there (stage raw_logs and stage validated_sequences run in separate processes).
        for name, folder in ((defaults.expectations_store_name, "expectations"), (defaults.validation_results_store_name, "validations")):
            stores[name] = {
                **stores[name],
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir / STORE_FOLDER / folder)},
            }
        sites[DOCS_SITE] = {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    config = DataContextConfig(
        store_backend_defaults=defaults,
        stores=stores,
        data_docs_sites=sites,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    context.data_sources.add_pandas(DATASOURCE)
    return context


def _batch_definition(context, asset_name: str):
    datasource = context.data_sources.get(DATASOURCE)
    if asset_name not in datasource.get_asset_names():
        datasource.add_dataframe_asset(asset_name).add_batch_definition_whole_dataframe(BATCH_DEFINITION)
    return datasource.get_asset(asset_name).get_batch_definition(BATCH_DEFINITION)
