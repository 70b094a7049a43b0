"""How a classifier's logits become the scores that are explained and measured.

Below both the attribution methods and the metrics: a method explains a score, a metric
reads one, and the two must mean the same thing by it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

#: How logits become the score a method explains: ``"softmax"`` (single-label models),
#: ``"sigmoid"`` (multi-label models), ``"logit"`` (the raw output) or a callable.
ScoreType = str | Callable[[torch.Tensor], torch.Tensor]
SCORES = ("softmax", "sigmoid", "logit")

#: The classifier's score for each task.
TASK_SCORES = {"multilabel": "sigmoid", "single-label": "softmax"}


def check_score(score: ScoreType) -> ScoreType:
    """``score`` itself, or a ``ValueError`` naming it and what is accepted."""
    if not callable(score) and score not in SCORES:
        raise ValueError(f"score must be one of {list(SCORES)} or a callable, got {score!r}")
    return score


def class_scores(logits: torch.Tensor, score: ScoreType) -> torch.Tensor:
    """Apply ``score`` (see :data:`ScoreType`) to ``(N, K)`` logits."""
    if callable(score):
        return score(logits)
    if score == "softmax":
        return F.softmax(logits, dim=1)
    if score == "sigmoid":
        return torch.sigmoid(logits)
    return logits


def score_for_task(task: str) -> str:
    """``"sigmoid"`` for a multi-label classifier, ``"softmax"`` for a single-label one."""
    if task not in TASK_SCORES:
        raise ValueError(f"task must be one of {list(TASK_SCORES)}, got {task!r}")
    return TASK_SCORES[task]
