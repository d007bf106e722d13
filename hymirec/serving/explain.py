"""The interest explorer: what each of a user's K interests stands for, and which one produced each recommendation.

For a multi-interest model (``ServedModel.has_interests``) and one history, s_k(i) is interest k's
score of item i (the cosine for HyMiRec — the dot product with ``llm.scoring: dot`` —, the dot product
for ComiRec-SA; the model ranks by
max_k s_k(i)). Each interest is shown as its ``NEAREST`` best-scoring catalog items, **seen items
included** (marked ``*``: an interest is often best described by what the user already watched), and
each recommended item names the interest that produced it, argmax_k s_k(i), with its score. A
single-vector model (SASRec, the coarse models) or Popularity has no interests to show: the
explanation says so and still lists the recommendations.

Rendered as plain text (``hymirec recommend --explain``) or as markdown (``reports/evaluation.md``,
the ``llm_model`` asset's metadata).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hymirec.data.schema import USER_ID
from hymirec.data.sequences import USER_IDX, SequenceData, SplitView
from hymirec.evaluation.ranking import top_items
from hymirec.serving.served_model import POPULARITY, ServedModel

NEAREST = 5  # items shown per interest
SAMPLE_USERS = 3  # users explained in the report and the llm_model asset


@dataclass(frozen=True)
class Interest:
    nearest: np.ndarray  # [NEAREST] item_idx best first, seen items included
    nearest_scores: np.ndarray  # [NEAREST] s_k of each
    produced: int  # recommendations this interest produced


@dataclass(frozen=True)
class Explanation:
    history: np.ndarray  # item_idx, oldest first
    items: np.ndarray  # [N] recommended item_idx, best first
    scores: np.ndarray  # [N] the model's score of each
    producers: np.ndarray | None  # [N] the interest (0-based) that produced each; None without interests
    interests: list[Interest]  # empty without interests
    from_popularity: bool  # the history was empty: the popularity list


def explain(served: ServedModel, history: np.ndarray, n: int, nearest: int = NEAREST) -> Explanation:
    recommendations = served.recommend([history], n)
    items, scores = recommendations.items[0], recommendations.scores[0]
    from_popularity = bool(recommendations.from_popularity[0])
    if not served.has_interests or from_popularity:
        return Explanation(history, items, scores, None, [], from_popularity)
    per_interest = served.interests([history])[0] @ served.item_vectors.T  # [K I] s_k(i)
    order = top_items(per_interest, nearest)  # [K nearest], ties: lower item_idx first
    producers = per_interest[:, items].argmax(axis=0)
    interests = [
        Interest(order[k], per_interest[k, order[k]], int((producers == k).sum())) for k in range(len(per_interest))
    ]
    return Explanation(history, items, scores, producers, interests, from_popularity)


def _no_interests(served: ServedModel) -> str:
    if served.name == POPULARITY:
        return f"model {served.name} has no interests: every user gets the same list"
    return f"model {served.name} has a single interest (one user vector): there are no interests to show"


def _columns(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return ["  ".join(cell.rjust(width) if column in right else cell.ljust(width)
                      for column, (cell, width) in enumerate(zip(row, widths))).rstrip() for row in rows]


def recommendations_text(served: ServedModel, explanation: Explanation, with_interest: bool = False) -> list[str]:
    """The list as aligned columns: rank, score, [interest], item_id, title | genres."""
    catalog = served.catalog
    header = ["rank", served.score_name if not explanation.from_popularity else "events"]
    header += ["interest"] * with_interest + ["item_id", "title | genres"]
    rows = [header]
    for rank, (item, score) in enumerate(zip(explanation.items, explanation.scores), start=1):
        row = [str(rank), f"{score:.4f}" if not explanation.from_popularity else str(int(score))]
        if with_interest:
            row.append(str(explanation.producers[rank - 1] + 1))
        genres = catalog.genres(item)
        row += [catalog.item_id(item), catalog.title(item) + (f" | {genres}" if genres else "")]
        rows.append(row)
    return ["  " + line for line in _columns(rows, right={0, 1, 2} if with_interest else {0, 1})]


def explanation_text(served: ServedModel, explanation: Explanation) -> str:
    """Plain text for the terminal: the interests (if any), then the recommendations."""
    catalog = served.catalog
    if explanation.from_popularity:
        return "\n".join(["(no history: no interests to show)", *recommendations_text(served, explanation)])
    if not explanation.interests:
        return "\n".join([_no_interests(served), *recommendations_text(served, explanation)])
    seen = set(explanation.history.tolist())
    count = len(explanation.interests)
    lines = [f"{count} interest{'s' if count > 1 else ''}; each shown as its {len(explanation.interests[0].nearest)} nearest catalog "
             f"items by {served.score_name}, seen items included and marked *"]
    for k, interest in enumerate(explanation.interests, start=1):
        lines.append(f"interest {k} (produced {interest.produced} of the {len(explanation.items)} recommendations):")
        for item, score in zip(interest.nearest, interest.nearest_scores):
            genres = catalog.genres(item)
            lines.append(f"  {score:7.4f} {'*' if item in seen else ' '} {catalog.title(item)}" + (f" | {genres}" if genres else ""))
    lines.append(f"recommendations (interest = argmax_k {served.score_name}(interest_k, item)):")
    return "\n".join(lines + recommendations_text(served, explanation, with_interest=True))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def explanation_markdown(served: ServedModel, explanation: Explanation, heading: str) -> str:
    """One user's section: a table of interests (nearest items) and a table of recommendations."""
    catalog = served.catalog
    seen = set(explanation.history.tolist())
    lines = [f"### {heading}", ""]
    if explanation.interests:
        lines += ["| interest | recommendations produced | nearest items (* seen) |", "|---:|---:|---|"]
        for k, interest in enumerate(explanation.interests, start=1):
            nearest = "; ".join(f"{_cell(catalog.title(item))}{'*' if item in seen else ''} ({score:.3f})"
                                for item, score in zip(interest.nearest, interest.nearest_scores))
            lines.append(f"| {k} | {interest.produced} | {nearest} |")
        lines.append("")
    else:
        lines += [_no_interests(served) + ".", ""]
    lines += [f"| rank | item | genres | interest | {served.score_name} |", "|---:|---|---|---:|---:|"]
    for rank, (item, score) in enumerate(zip(explanation.items, explanation.scores), start=1):
        producer = str(explanation.producers[rank - 1] + 1) if explanation.producers is not None else "—"
        lines.append(f"| {rank} | {_cell(catalog.title(item))} | {_cell(catalog.genres(item))} | {producer} | {score:.4f} |")
    return "\n".join(lines)


def sample_interests_markdown(served: ServedModel, data: SequenceData, view: SplitView, n: int = 10) -> str:
    """Explanations of the first ``SAMPLE_USERS`` users of ``view`` (user-id order), each with the split's input history."""
    user_ids = data.sequences.set_index(USER_IDX).loc[view.user_idx[:SAMPLE_USERS], USER_ID].astype(str)
    intro = (f"What each interest of `{served.name}` stands for: its {NEAREST} nearest catalog items by {served.score_name} "
             f"(seen items included, marked *), and which interest produced each of the top {n} (argmax over interests). "
             f"Users: the first {SAMPLE_USERS} in user-id order, each with the input history of the {'validation' if view.split == 'valid' else 'test'} split.")
    sections = [intro]
    for history, user in zip(view.histories, user_ids):
        sections.append(explanation_markdown(served, explain(served, history, n), f"user {user} ({len(history)} items)"))
    return "\n\n".join(sections)
