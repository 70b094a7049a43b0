"""The Explainer's training loss (Stalder et al., NeurIPS 2022), one function per term.

For an image with label set ``Y`` and Explainer logits ``S`` ``(N, K, H, W)``:
the target mask ``m = sigmoid(max_{k in Y} S_k)`` and the non-target mask
``n = sigmoid(max_{k not in Y} S_k)``. Then

    L = BCE(F(m * x), y)                     classification: the masked image shows every label
      + l_e  * L_entropy(F((1 - m) * x))     the inverted image shows none
      + l_tv * (TV(m) + TV(n))               smooth masks
      + l_ac * A_class                       each present class's mask has a sensible area
      + l_m  * mean(m) + l_n * mean(n)       small target mask, empty non-target mask

Two optional terms go beyond the paper (weight 0, i.e. off, in its presets and defaults;
docs/explainer/training.md measures what they buy):

      + l_absent * A_absent                  every absent class's own mask is empty
      + l_sep    * L_separation              a present class's own mask shows that class only

The paper's loss never separates two present classes (both sit inside ``m``) and pushes
absent classes only through their maximum; these two terms address each in turn.

"Masking" is ``m * x + (1 - m) * b`` with ``b`` zeros in normalised space (the dataset's
mean colour). Deliberate differences from the reference code are listed in
docs/explainer/training.md; the one visible here: the image size is never hard-coded.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F

from captum_explainer.maps import max_over_classes


@dataclass(frozen=True)
class LossWeights:
    """Coefficients of the loss and the area bounds of ``A_class`` (defaults: the paper's).

    ``l_absent`` (:func:`absent_class_loss`) and ``l_sep`` (:func:`separation_loss`) weigh
    the terms beyond the paper; 0 (the default) leaves the paper's loss exactly.

    Example:
        >>> from captum_explainer.explainer import LossWeights
        >>> weights = LossWeights(l_absent=0.5)  # the paper's loss plus the absent-class term
        >>> weights.l_e, weights.a_min, weights.a_max, weights.l_absent
        (1.0, 0.05, 0.3, 0.5)
    """

    l_e: float = 1.0
    l_tv: float = 1.0
    l_ac: float = 1.0
    l_m: float = 0.1
    l_n: float = 0.3
    a_min: float = 0.05
    a_max: float = 0.3
    l_absent: float = 0.0
    l_sep: float = 0.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            option = f"--{name.replace('_', '-')}"
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(
                    f"loss weight {name} ({option}) must be a finite number >= 0, got {value!r}"
                )
        if not 0 <= self.a_min <= self.a_max <= 1:
            raise ValueError(
                f"area bounds must satisfy 0 <= a_min <= a_max <= 1 (--a-min, --a-max), got "
                f"a_min={self.a_min!r}, a_max={self.a_max!r}"
            )

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


#: The paper's per-setting values: ``(learning rate, loss weights)``.
PRESETS: dict[str, tuple[float, LossWeights]] = {
    "vgg16-voc": (1e-5, LossWeights(l_e=1.0, l_tv=1.0, l_ac=1.0, l_m=0.1, l_n=0.3)),
    "resnet50-voc": (1e-4, LossWeights(l_e=3.0, l_tv=1.0, l_ac=0.8, l_m=0.01, l_n=0.3)),
    "vgg16-coco": (1e-5, LossWeights(l_e=1.0, l_tv=0.3, l_ac=0.3, l_m=0.03, l_n=0.1)),
    "resnet50-coco": (1e-5, LossWeights(l_e=3.0, l_tv=0.05, l_ac=0.1, l_m=0.01, l_n=0.03)),
}


#: What :func:`~captum_explainer.fit_explainer` trains with unless told otherwise: the paper's
#: weights with a tighter area bound and the two terms beyond the paper that make the masks
#: class-specific (the shipped synthetic Explainer's recipe). With the paper's loss alone an
#: Explainer learns one objectness mask for every class, present or absent (docs/explainer/
#: training.md); ``LossWeights()`` is the paper's loss.
CLASS_SPECIFIC_WEIGHTS = LossWeights(a_max=0.15, l_absent=1.0, l_sep=1.0)


def loss_weights(
    preset: str | None = None, base: LossWeights | None = None, **overrides: float | None
) -> LossWeights:
    """A preset's loss weights (or ``base``, default the paper's) with the given ones
    replaced (``None`` leaves a weight as it is)."""
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    base = PRESETS[preset][1] if preset else (base or LossWeights())
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


def check_labels(labels: torch.Tensor, task: str = "multilabel") -> None:
    """Every training image needs at least one label (its target mask is built from them);
    a single-label task exactly one."""
    empty = labels.sum(dim=1) == 0
    if empty.any():
        raise ValueError(
            f"labels are all zero for {int(empty.sum())} image(s) of the batch; the Explainer "
            f"loss needs at least one present class per image (filter such images out)"
        )
    if task == "single-label" and (labels.sum(dim=1) != 1).any():
        raise ValueError(
            "task 'single-label' needs exactly one label per image; images with several "
            "labels need task 'multilabel'"
        )


def merged_masks(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Target and non-target masks ``(N, 1, H, W)``: sigmoid of the max logit over the
    present, resp. absent, classes. With no absent class the non-target mask is zero.

    Example:
        >>> import torch
        >>> from captum_explainer.explainer import merged_masks
        >>> logits = torch.tensor([[[[4.0]], [[-4.0]], [[0.0]]]])  # 1 image, 3 classes, 1 x 1
        >>> target, non_target = merged_masks(logits, labels=torch.tensor([[1, 0, 0]]))
        >>> round(target.item(), 3), round(non_target.item(), 3)  # sigmoid(4), sigmoid(max(-4, 0))
        (0.982, 0.5)
    """
    present = labels.bool()
    target = max_over_classes(logits, present, empty=float("-inf"))
    non_target = max_over_classes(logits, ~present, empty=float("-inf"))
    return torch.sigmoid(target), torch.sigmoid(non_target)


#: The classification term per task: the paper's BCE for multi-label classifiers,
#: cross-entropy on the labelled class for single-label (softmax) ones.
TASKS = ("multilabel", "single-label")


def classification_loss(
    masked_logits: torch.Tensor, labels: torch.Tensor, task: str = "multilabel"
) -> torch.Tensor:
    """The classifier must still find the labelled classes on the masked image.

    ``"multilabel"``: ``BCE(F(m * x), y)`` (the paper). ``"single-label"``: ``CE(F(m * x), y)``
    with the image's one label: a softmax classifier's classes compete, so the masked image
    must make the labelled class win, not only score high on its own.
    """
    if task == "single-label":
        return F.cross_entropy(masked_logits, labels.argmax(1))
    if task != "multilabel":
        raise ValueError(f"task must be one of {list(TASKS)}, got {task!r}")
    return F.binary_cross_entropy_with_logits(masked_logits, labels)


def entropy_loss(inverted_logits: torch.Tensor) -> torch.Tensor:
    """``-mean_{n,k} H(p)_k`` with ``p = softmax(F((1 - m) * x))`` and ``H = -p log p``.

    Minimising it maximises the classifier's uncertainty on the inverted image. Averaging
    over classes (as the reference does) divides ``l_e`` by ``K``.
    """
    log_p = F.log_softmax(inverted_logits, dim=1)
    return (log_p.exp() * log_p).mean()


def total_variation(masks: torch.Tensor) -> torch.Tensor:
    """Mean over pixels of ``|z(i,j) - z(i,j+1)| + |z(i,j) - z(i+1,j)|`` (L1, reflect padding).

    Args:
        masks: ``(N, C, H, W)``.
    """
    padded = F.pad(masks, (0, 1, 0, 1), mode="reflect")
    dx = (padded[..., :-1, :-1] - padded[..., :-1, 1:]).abs()
    dy = (padded[..., :-1, :-1] - padded[..., 1:, :-1]).abs()
    return (dx + dy).mean()


def area_loss(
    class_masks: torch.Tensor, labels: torch.Tensor, a_min: float, a_max: float
) -> torch.Tensor:
    """``A_class``: each present class's mask covers between ``a_min`` and ``a_max`` of the image.

    For each image and present class, with the mask's ``P`` values sorted descending ``v``:
    ``(1/P) * sum_{r < a_min P} (1 - v_r) + (1/P) * sum_{r >= a_max P} v_r``; summed over the
    present classes, averaged over the batch.

    Args:
        class_masks: ``sigmoid(S)``, ``(N, K, H, W)``.
        labels: ``(N, K)`` multi-hot.
    """
    n, k = class_masks.shape[:2]
    values = class_masks.reshape(n, k, -1).sort(dim=2, descending=True).values
    p = values.shape[2]
    rank = torch.arange(p, device=values.device)
    too_small = ((1 - values) * (rank < int(a_min * p))).sum(2) / p
    too_large = (values * (rank >= int(a_max * p))).sum(2) / p
    return ((too_small + too_large) * labels).sum(1).mean()


def absent_class_loss(class_masks: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``A_absent``: mean over each image's absent classes of their mask's mean value.

    The paper's ``l_n * mean(n)`` reaches only the largest absent mask at each pixel; this
    term pushes every absent class's mask towards zero. Images without an absent class
    count zero.

    Args:
        class_masks: ``sigmoid(S)``, ``(N, K, H, W)``.
        labels: ``(N, K)`` multi-hot.
    """
    absent = 1 - labels.float()
    means = class_masks.flatten(2).mean(2)
    return ((means * absent).sum(1) / absent.sum(1).clamp(min=1)).mean()


def separation_classes(
    labels: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """One present class per image, drawn uniformly among its labels: ``(N,)`` long."""
    return torch.multinomial(labels.float(), 1, generator=generator)[:, 0]


def separation_loss(separated_logits: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """``L_separation = BCE(F(m_c * x), onehot(c))`` for one present class ``c`` per image.

    The image masked by class ``c``'s own mask ``m_c = sigmoid(S_c)`` alone must still show
    ``c`` and none of the other classes, the image's other present ones included: a mask
    that also covers another present object is penalised (the paper's merged target mask
    ``m`` lets it do so at no cost). One more classifier pass per step.

    Args:
        separated_logits: ``F(m_c * x)``, ``(N, K)``.
        classes: ``c`` per image, ``(N,)`` (:func:`separation_classes`).
    """
    target = F.one_hot(classes, separated_logits.shape[1]).to(separated_logits.dtype)
    return F.binary_cross_entropy_with_logits(separated_logits, target)


def explainer_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    masked_logits: torch.Tensor,
    inverted_logits: torch.Tensor,
    target_mask: torch.Tensor,
    non_target_mask: torch.Tensor,
    weights: LossWeights,
    separated_logits: torch.Tensor | None = None,
    separated_classes: torch.Tensor | None = None,
    task: str = "multilabel",
) -> dict[str, torch.Tensor]:
    """Every term and their weighted sum ``"loss"`` (the caller runs the classifier).

    Args:
        logits: the Explainer's ``S``, ``(N, K, H, W)``.
        labels: ``(N, K)``.
        masked_logits: ``F(m * x)``; inverted_logits: ``F((1 - m) * x)``; both ``(N, K)``.
        target_mask, non_target_mask: from :func:`merged_masks`.
        weights: the coefficients.
        separated_logits, separated_classes: ``F(m_c * x)`` and ``c`` for
            :func:`separation_loss`; required when ``weights.l_sep > 0``.
        task: ``"multilabel"`` or ``"single-label"`` (:func:`classification_loss`).

    Returns:
        ``{"loss", "classification", "entropy", "tv", "area", "mask_mean", "non_target_mean"}``,
        with ``"absent"`` and ``"separation"`` where their weights are not zero.

    Example:
        >>> import torch
        >>> from captum_explainer.explainer import LossWeights, explainer_loss, merged_masks
        >>> from captum_explainer.models import SmallExplainer, synthetic_classifier
        >>> classifier, explainer = synthetic_classifier(), SmallExplainer(num_classes=8)
        >>> images, labels = torch.rand(2, 3, 64, 64), torch.eye(8)[:2]
        >>> logits = explainer(images)
        >>> target, non_target = merged_masks(logits, labels)
        >>> terms = explainer_loss(
        ...     logits, labels, classifier(target * images), classifier((1 - target) * images),
        ...     target, non_target, LossWeights(),
        ... )  # fmt: skip
        >>> sorted(terms)
        ['area', 'classification', 'entropy', 'loss', 'mask_mean', 'non_target_mean', 'tv']
        >>> terms["loss"].backward()  # what a training step does
    """
    class_masks = torch.sigmoid(logits)
    terms = {
        "classification": classification_loss(masked_logits, labels, task),
        "entropy": entropy_loss(inverted_logits),
        "tv": total_variation(target_mask) + total_variation(non_target_mask),
        "area": area_loss(class_masks, labels, weights.a_min, weights.a_max),
        "mask_mean": target_mask.mean(),
        "non_target_mean": non_target_mask.mean(),
    }
    terms["loss"] = (
        terms["classification"]
        + weights.l_e * terms["entropy"]
        + weights.l_tv * terms["tv"]
        + weights.l_ac * terms["area"]
        + weights.l_m * terms["mask_mean"]
        + weights.l_n * terms["non_target_mean"]
    )
    if weights.l_absent:
        terms["absent"] = absent_class_loss(class_masks, labels)
        terms["loss"] = terms["loss"] + weights.l_absent * terms["absent"]
    if weights.l_sep:
        if separated_logits is None or separated_classes is None:
            raise ValueError("l_sep > 0 needs separated_logits and separated_classes")
        terms["separation"] = separation_loss(separated_logits, separated_classes)
        terms["loss"] = terms["loss"] + weights.l_sep * terms["separation"]
    return terms
