"""FGVis's record: the deletion game."""

from __future__ import annotations

from typing import Any

import torch

from captum_explainer.attr import FGVis
from captum_explainer.evaluation.registry import MethodRecord, Models, register_method
from captum_explainer.evaluation.timing import (
    BarePasses,
    forward_backward_passes,
    forward_passes,
    in_sequence,
)


def fgvis_passes(
    models: Models, images: torch.Tensor, target: int, kwargs: dict[str, Any]
) -> BarePasses:
    """The clean pass, the last goal check and one forward and backward per iteration."""
    iterations = kwargs["n_iter"]
    return BarePasses(
        in_sequence(
            forward_passes(models.classifier, images, 2),
            forward_backward_passes(models.classifier, images, iterations, target),
        ),
        f"baseline: 2 forwards (clean pass, last goal check) + {iterations} forward/backward",
    )


RECORD = register_method(
    MethodRecord(
        key="fgvis",
        name="FGVis",
        build=lambda m: FGVis(m.classifier, normalization=m.normalization, score=m.score),
        # The deletion game: on the shipped classifier the preservation game's masks are a
        # uniformly dimmed copy of the image (the sigmoid score is flat until it falls off a
        # cliff, so only the uniform L1 pull moves the mask); the deletion game's sit on the
        # objects' evidence (docs/methods/fgvis.md, "Which game the comparison plays").
        presets=dict(
            demo=dict(n_iter=300, game="deletion"),
            quick=dict(n_iter=3, game="deletion"),
            sanity=dict(n_iter=100, game="deletion"),
            # tol=0: no early stop, so the iteration count (and the baseline) is fixed.
            benchmark=dict(n_iter=300, tol=0.0, game="deletion"),
            large=dict(n_iter=10, tol=0.0, game="deletion"),
        ),
        passes=fgvis_passes,
        work_arg="n_iter",
        work_unit="iterations",
        needs=("normalization",),
        map_kind="input",
        # Its filter's indicator h(e) <= h(x) is exact, so the last-bit differences between
        # a batched and a single-image convolution flip a few neurons, and the optimisation
        # carries the flips on (in float64 they agree to 1e-9; tests/test_conformance.py).
        batch_tolerance=5e-3,
        # A deletion map ``1 - m`` holds the share of each value deleted, a few per cent at
        # most on the evidence: divided by its maximum, so that zero stays "not deleted" and
        # the figure can show where it deleted.
        scale="max",
        reduction="mean",
        sanity_reduction="mean",
        # 100 optimisation steps per image and randomised layer: named, not by default.
        in_default_sanity=False,
        column=60,
        doc="FGVis: optimised, gradient-filtered deletion masks (the deletion game)",
    )
)
