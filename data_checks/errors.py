"""What a failed data check reports: the file, the rule, and a few offending rows.

``DataValidationError`` lists every broken rule (not just the first), so one run of
``hymirec validate`` tells a user everything to fix. Its ``failures`` keep the same facts
structured, for Dagster check metadata and tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

MAX_SAMPLE_ROWS = 5

RowNumbering = Literal["line", "row"]

_NUMBERING_NOTE: dict[str, str] = {
    "line": "line = line number in the file, header = line 1",
    "row": "row = 0-based row index",
}


@dataclass(frozen=True)
class RuleFailure:
    """One broken rule in one file or table.

    ``sample_rows`` holds at most ``MAX_SAMPLE_ROWS`` dicts: ``{"row": n, column: value, ...}``, where
    ``n`` counts as ``row_numbering`` says ("line": line in the text file, header = line 1;
    "row": 0-based row index). ``detail`` says what was wrong when there is no row to show
    (a missing column, a wrong dtype) and how many rows broke the rule when there are.
    """

    file: str
    rule: str
    sample_rows: tuple[dict[str, Any], ...] = ()
    detail: str = ""
    row_numbering: RowNumbering = "row"
    unexpected_count: int | None = None

    def describe(self) -> str:
        head = f"{self.file}: rule {self.rule} failed"
        if self.detail:
            head += f": {self.detail}"
        if not self.sample_rows:
            return head
        lines = [f"{head}; sample rows ({_NUMBERING_NOTE[self.row_numbering]}):"]
        for sample in self.sample_rows:
            values = ", ".join(f"{column}={_show(value)}" for column, value in sample.items() if column != "row")
            lines.append(f"    {self.row_numbering} {sample['row']}: {values}")
        return "\n".join(lines)


def _show(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class DataValidationError(Exception):
    """Data broke one or more rules of a Great Expectations suite; the message names each one.

    ``failures`` lists every broken rule; ``skipped`` names rules that could not be checked
    because a column they need is missing; ``pending`` names data-set-level rules that only run
    once the row-level rules pass (counts over broken rows would mislead).
    """

    def __init__(
        self, failures: Sequence[RuleFailure] | str, skipped: Sequence[str] = (), pending: Sequence[str] = ()
    ) -> None:
        self._text = failures if isinstance(failures, str) else None  # a plain message, no structure
        self.failures: list[RuleFailure] = [] if isinstance(failures, str) else list(failures)
        self.skipped: list[str] = list(skipped)
        self.pending: list[str] = list(pending)
        super().__init__(self.message)

    @property
    def message(self) -> str:
        if self._text is not None:
            return self._text
        count = len(self.failures)
        lines = [f"data validation failed: {count} rule{'s' if count != 1 else ''} broken"]
        lines += [f"- {failure.describe()}" for failure in self.failures]
        if self.skipped:
            lines.append(f"- not checked because of missing columns: {', '.join(self.skipped)}")
        if self.pending:
            lines.append(f"- not checked until the rules above pass: {', '.join(self.pending)}")
        return "\n".join(lines)

    @property
    def rules(self) -> list[str]:
        """Names of the broken rules, in report order."""
        return [failure.rule for failure in self.failures]

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):  # picklable across processes (Dagster, multiprocessing)
        return (type(self), (self._text if self._text is not None else self.failures, self.skipped, self.pending))
