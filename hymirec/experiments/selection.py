"""The one selection rule, applied: every choice on validation NDCG@10, never on a test figure.

Candidates are runs of the same protocol that differ in a configuration (a learning rate, a schedule,
a variant): each a folder with the ``metrics.json`` the evaluation report writes (a published run, or a
workspace's ``reports/``), or — for an experiment of one training stage (``make experiment STAGE=…``),
which changes one model and stops before the evaluation report — a folder with that stage's report
(``TRAINING_REPORTS``). A training stage's validation figures are the evaluation report's own (it copies
them from the training summaries), so both kinds compete alike; a one-stage candidate has no test
figure: the published run that trains the chosen configuration gives it. A run whose model *is* a
one-stage candidate's (trained again from the same fingerprint, or adopted from the candidate's folder)
scores exactly the candidate's validation figure: it is that configuration, not another one — counted once,
under the candidate's name, with the run's test figure (``tested_in``).

For every model the run with the best validation NDCG@10 is chosen; for a model with K > 1 interests,
the merge of its K lists is chosen the same way: ``AS_TRAINED`` (the model's own scores: the max over
its interests, or its learned gate where ``llm.merge`` says so) or ``ROUND_ROBIN`` (``metrics.json:
round_robin``); the champion is the best chosen model. Only the ``valid`` tables are read —
``tests/test_selection.py`` rewrites every test figure and checks that no decision moves — and the test
figure of what was chosen is reported beside it, once, for reading.

``hymirec select RUN… --out selection.md`` writes the table of every candidate with its decision, and
how many configurations each model was tuned over: the same tuning budget per model family is part of
the rule, and a count that differs shows where it was not kept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from hymirec.io import read_json, write_text

METRIC = "ndcg@10"
AS_TRAINED = "as trained"
ROUND_ROBIN = "round_robin"
UNTRAINED = {"popularity"}  # nothing to choose: never a champion
# reports of the training stages whose models are rows of metrics.json under the same names ({model:
# {"valid": {...}, ...}}); the coarse model's names its histories ("codebook", "exact"), not its rows
TRAINING_REPORTS = ("sasrec_model.json", "llm_model.json")


@dataclass(frozen=True)
class Candidate:
    run: str  # the run's label (its folder name)
    model: str
    merge: str  # AS_TRAINED or ROUND_ROBIN
    valid: float
    tested_in: str | None  # the run whose metrics.json holds its test figure; None: a one-stage candidate no run given evaluated


def read_candidates(runs: dict[str, Path]) -> list[Candidate]:
    """Every (run, model, merge) with its validation ``METRIC``, a one-stage candidate and the run that
    evaluated its very model counted once (``same_training``); a run without validation metrics is an error."""
    found = []
    for label, folder in runs.items():
        found += _evaluated_candidates(label, folder) if (folder / "metrics.json").exists() else _trained_candidates(label, folder)
    return same_training(found)


def same_training(candidates: list[Candidate]) -> list[Candidate]:
    """Each one-stage candidate that an evaluated run's model scores exactly (the same model, as trained) takes
    that run's test figure; the run's row of that model leaves the list, and its other merges of the model
    go under the candidate's name (one configuration, merged two ways).

    Exact equality of two validation NDCG@10 figures — a mean over thousands of users' 1/log2 terms — is what
    the same weights give and two trainings do not."""
    evaluated = {(c.model, c.valid): c for c in candidates if c.tested_in == c.run and c.merge == AS_TRAINED}
    twins = {c: evaluated[c.model, c.valid] for c in candidates if c.tested_in is None and (c.model, c.valid) in evaluated}
    owner = {(twin.run, twin.model): candidate.run for candidate, twin in twins.items()}  # evaluated row -> whose model it is
    kept = []
    for candidate in candidates:
        if candidate in twins:
            kept.append(replace(candidate, tested_in=twins[candidate].run))
        elif (candidate.run, candidate.model) in owner:
            if candidate.merge != AS_TRAINED:
                kept.append(replace(candidate, run=owner[candidate.run, candidate.model]))
        else:
            kept.append(candidate)
    return kept


def _evaluated_candidates(label: str, folder: Path) -> list[Candidate]:
    path = folder / "metrics.json"
    metrics = read_json(path)
    if not metrics.get("valid"):
        raise ValueError(f"{path}: no validation metrics to select on")
    found = [Candidate(label, model, AS_TRAINED, float(values[METRIC]), label) for model, values in metrics["valid"].items()]
    for model, values in (metrics.get(ROUND_ROBIN) or {}).get("valid", {}).items():
        found.append(Candidate(label, model, ROUND_ROBIN, float(values[METRIC]), label))
    return found


def _trained_candidates(label: str, folder: Path) -> list[Candidate]:
    reports = [folder / name for name in TRAINING_REPORTS if (folder / name).exists()]
    found = [
        Candidate(label, model, AS_TRAINED, float(summary["valid"][METRIC]), None)
        for report in reports
        for model, summary in read_json(report).items()
        if METRIC in (summary.get("valid") or {})
    ]
    if not found:
        raise ValueError(f"{folder}: no validation metrics to select on (no metrics.json, nor {' or '.join(TRAINING_REPORTS)})")
    return found


def choose(candidates: list[Candidate]) -> dict[str, Candidate]:
    """The best candidate of each model by validation (ties: the first run given, then ``AS_TRAINED``)."""
    chosen: dict[str, Candidate] = {}
    for candidate in candidates:
        best = chosen.get(candidate.model)
        if best is None or candidate.valid > best.valid:
            chosen[candidate.model] = candidate
    return chosen


def champion(chosen: dict[str, Candidate]) -> Candidate:
    trained = [candidate for model, candidate in chosen.items() if model not in UNTRAINED]
    if not trained:
        raise ValueError("no trained model among the candidates")
    return max(trained, key=lambda candidate: candidate.valid)


def _test_figure(runs: dict[str, Path], candidate: Candidate) -> str:
    """The chosen candidate's test figure, read after the choice, for the report only ("—": a one-stage candidate)."""
    if candidate.tested_in is None:
        return "—"
    metrics = read_json(runs[candidate.tested_in] / "metrics.json")
    table = metrics["test"] if candidate.merge == AS_TRAINED else metrics[ROUND_ROBIN]["test"]
    return f"{float(table[candidate.model][METRIC]):.4f}"


def _run_cell(candidate: Candidate) -> str:
    """The candidate's run, and the run that evaluated its model where that is another one."""
    if candidate.tested_in in (None, candidate.run):
        return candidate.run
    return f"{candidate.run} (its model evaluated in {candidate.tested_in})"


def selection_markdown(runs: dict[str, Path]) -> str:
    """Every candidate with its validation figure and the decision; the chosen ones' test figures; the champion."""
    candidates = read_candidates(runs)
    chosen = choose(candidates)
    best = champion(chosen)
    tried = {model: len({c.run for c in candidates if c.model == model}) for model in chosen}
    lines = [
        "# Selection", "",
        f"Every choice on validation {METRIC.upper()} only (`hymirec select`): for each model the configuration "
        "(run) and the merge of its interests with the best validation figure (*as trained*: the model's own "
        "scores, the max over its interests or its learned gate; *round_robin*: its K lists interleaved); the champion "
        "is the best chosen model. Test figures are shown for the chosen candidates only, after the choice.", "",
        "Runs: " + ", ".join(f"`{label}` ({folder})" for label, folder in runs.items()), "",
        f"| model | configurations tried | run | merge | valid {METRIC} | decision |", "|---|---:|---|---|---:|---|",
    ]
    for model in chosen:
        for candidate in sorted((c for c in candidates if c.model == model), key=lambda c: -c.valid):
            decision = "**chosen**" if candidate == chosen[model] else "not chosen"
            lines.append(f"| {model} | {tried[model]} | {_run_cell(candidate)} | {candidate.merge} | {candidate.valid:.4f} | {decision} |")
    lines += ["", f"| chosen model | run | merge | valid {METRIC} | test {METRIC} |", "|---|---|---|---:|---:|"]
    for model, candidate in chosen.items():
        lines.append(f"| {model} | {_run_cell(candidate)} | {candidate.merge} | {candidate.valid:.4f} | {_test_figure(runs, candidate)} |")
    if any(candidate.tested_in is None for candidate in chosen.values()):
        lines += ["", "— : chosen from a one-stage experiment (its training stage's report); the published run that "
                  "trains this configuration gives its test figure."]
    lines += ["", f"Champion (best on validation): **{best.model}** ({best.run}, {best.merge}), valid {best.valid:.4f}."]
    return "\n".join(lines) + "\n"


def write_selection(runs: list[Path], out: Path) -> Path:
    labelled = {folder.name: folder for folder in runs}
    if len(labelled) != len(runs):
        raise ValueError(f"two runs share a folder name: {[str(folder) for folder in runs]}")
    write_text(selection_markdown(labelled), out)
    return out
