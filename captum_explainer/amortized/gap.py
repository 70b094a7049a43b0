"""How far an amortized method is from the slow one it imitates, and what it saves.

Fidelity is measured against a reference: the slow method at a large budget with a seed the
network never saw (RISE with 8,000 masks). Beside the network's fidelity stands the curve of
what the slow method itself reaches at each budget, so the network's place on the cost axis
is read directly: "as close to the reference as RISE with N masks, at the cost of one pass".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from captum_explainer.amortized.train import map_correlation
from captum_explainer.attr import RISE, AmortizedAttribution
from captum_explainer.evaluation.timing import time_paired


@dataclass
class FidelityCurve:
    """Mean correlation with the reference maps over the (image, labelled class) pairs, with
    its standard error: of RISE at each budget (masks) and of the amortized network.

    ``break_even(training_seconds, slow_seconds, fast_seconds)`` is the number of images
    whose explanation pays the training back.

    Example:
        >>> from captum_explainer.amortized.gap import FidelityCurve
        >>> curve = FidelityCurve(8000, pairs=120, rise={250: (0.78, 0.01), 1000: (0.93, 0.01)})
        >>> curve.amortized = (0.95, 0.01)
        >>> curve.closest_budget_beaten()  # closer to the reference than RISE with 1,000 masks
        1000
        >>> round(FidelityCurve.break_even(training_seconds=2400, slow_seconds=3.0, fast_seconds=0.5))
        960
    """

    reference_masks: int
    pairs: int
    rise: dict[int, tuple[float, float]] = field(default_factory=dict)
    amortized: tuple[float, float] = (float("nan"), float("nan"))

    def closest_budget_beaten(self) -> int | None:
        """The largest RISE budget whose fidelity the network's exceeds (``None``: none)."""
        beaten = [n for n, (mean, _) in self.rise.items() if self.amortized[0] > mean]
        return max(beaten) if beaten else None

    @staticmethod
    def break_even(training_seconds: float, slow_seconds: float, fast_seconds: float) -> float:
        """Images to explain before training pays off: ``training / (slow - fast)`` per image."""
        saved = slow_seconds - fast_seconds
        return training_seconds / saved if saved > 0 else float("inf")


def _mean_and_error(values: torch.Tensor) -> tuple[float, float]:
    values = values[~torch.isnan(values)]
    error = values.std() / len(values) ** 0.5 if len(values) > 1 else torch.tensor(float("nan"))
    return float(values.mean()), float(error)


def fidelity_curve(
    amortized: AmortizedAttribution,
    rise: RISE,
    images: torch.Tensor,
    labels: torch.Tensor,
    budgets: Sequence[int] = (250, 1000, 4000),
    reference_masks: int = 8000,
    reference_seed: int = 987_654,
    seed: int = 123,
    batch_size: int = 16,
) -> FidelityCurve:
    """Correlation of each labelled class's map with the reference (RISE with
    ``reference_masks`` masks drawn with ``reference_seed``), for RISE at each of
    ``budgets`` (seed ``seed``, independent of the reference's) and for ``amortized``.

    Args:
        amortized: the network's attribution; rise: RISE on the same classifier and score.
        images: ``(N, C, H, W)`` images the network never saw; labels: ``(N, K)`` multi-hot.
        batch_size: images per RISE call.

    Example:
        >>> import torch
        >>> from captum_explainer import RISE, AmortizedAttribution
        >>> from captum_explainer.amortized.gap import fidelity_curve
        >>> from captum_explainer.models import synthetic_amortized_rise, synthetic_classifier
        >>> model = synthetic_classifier()
        >>> amortized = AmortizedAttribution(synthetic_amortized_rise(), model)
        >>> images, labels = torch.rand(2, 3, 64, 64), torch.eye(8)[:2]
        >>> curve = fidelity_curve(
        ...     amortized, RISE(model), images, labels, budgets=(16, 64), reference_masks=128
        ... )
        >>> sorted(curve.rise), curve.pairs
        ([16, 64], 2)
    """
    present = labels.bool()

    def all_maps(compute) -> torch.Tensor:
        return torch.cat([compute(chunk) for chunk in images.split(batch_size)])

    reference = all_maps(
        lambda x: rise.attribute_all_classes(x, n_masks=reference_masks, seed=reference_seed)
    )
    curve = FidelityCurve(reference_masks, int(present.sum()))
    for budget in budgets:
        maps = all_maps(lambda x, n=budget: rise.attribute_all_classes(x, n_masks=n, seed=seed))
        curve.rise[budget] = _mean_and_error(map_correlation(maps, reference)[present])
    predicted = all_maps(amortized.attribute_all_classes)
    curve.amortized = _mean_and_error(map_correlation(predicted, reference)[present])
    return curve


def seconds_per_image(
    amortized: AmortizedAttribution,
    rise: RISE,
    images: torch.Tensor,
    n_masks: int = 4000,
    repeats: int = 3,
) -> tuple[float, float, float]:
    """``(RISE's, the network's seconds per image, their ratio)`` on the same batch and
    target, timed alternately (:func:`~captum_explainer.evaluation.timing.time_paired`).

    Example:
        >>> import torch
        >>> from captum_explainer import RISE, AmortizedAttribution
        >>> from captum_explainer.amortized.gap import seconds_per_image
        >>> from captum_explainer.models import SmallExplainer, synthetic_classifier
        >>> model = synthetic_classifier()
        >>> amortized = AmortizedAttribution(SmallExplainer(8).eval(), model)  # untrained, for timing
        >>> slow, fast, ratio = seconds_per_image(amortized, RISE(model), torch.rand(2, 3, 64, 64), 32, 1)
        >>> slow > 0 and fast > 0 and ratio > 0
        True
    """
    timing = time_paired(
        lambda: rise.attribute(images, target=0, n_masks=n_masks, seed=0),
        lambda: amortized.attribute(images, target=0),
        repeats,
        warmup=1,
    )
    n = images.shape[0]
    return timing.method.median / n, timing.baseline.median / n, timing.ratio
