"""The one catalogue of methods: what the demo, ``evaluate``, the benchmark, ``explain`` and
``compare`` run, with which settings.

A method of a comparison is a :class:`MethodSpec`: any Captum attribution object with the
keyword arguments of its ``attribute`` and how its maps are read. :func:`default_methods`
builds the package's six; a user's own Captum method is one more ``MethodSpec``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from captum_explainer.attr import (
    RISE,
    ExplainerAttribution,
    FGVis,
    GradCAM,
    IntegratedGradients,
    UndesirablePixels,
)
from captum_explainer.data._types import Normalization


@dataclass
class MethodSpec:
    """One method of a comparison.

    Args:
        name: the column name.
        attribution: a Captum attribution object (anything with ``attribute(inputs, target=...)``).
        kwargs: passed to every ``attribute`` call.
        scale: how maps are brought to [0, 1] for the mask scores (see
            :func:`~captum_explainer.metrics.localization.scale_maps`): ``"minmax"`` for
            saliency maps, ``"none"`` for masks.
        reduction: how an input-shaped attribution becomes one value per pixel.
        all_classes: use the method's ``attribute_all_classes`` (one pass for every
            class) when it has one.
        labels_as: the keyword under which ``attribute`` receives the explained images'
            ``(N, K)`` labels, for a method that needs to know every class an image holds
            (undesirable pixels: its competitors are the classes the image does not hold).
        per_class: score its every-class maps against each class's own pixels (class IoU,
            own-object share, absent-class mass). Off for undesirable pixels: their maps show
            what *hinders* a class, not where it is, and a run per class would cost ``K``
            times its 4000 masks.
    """

    name: str
    attribution: Any
    kwargs: dict[str, Any] = field(default_factory=dict)
    scale: str = "minmax"
    reduction: str = "abs_sum"
    all_classes: bool = True
    labels_as: str | None = None
    per_class: bool = True


#: Settings per method for the demo and ``evaluate`` (documented in docs/evaluation.md).
DEMO_SETTINGS: dict[str, dict[str, Any]] = {
    "RISE": dict(n_masks=4000),
    "Integrated Gradients": dict(n_steps=32, internal_batch_size=256),
    "FGVis": dict(n_iter=300),
    "Undesirable pixels": dict(n_masks=4000),
}


def default_methods(
    classifier: nn.Module,
    explainer: nn.Module | None,
    normalization: Normalization,
    seed: int = 0,
    settings: dict[str, dict[str, Any]] | None = None,
    score: str = "sigmoid",
) -> list[MethodSpec]:
    """The six methods as the demo and ``evaluate`` run them.

    Args:
        classifier: the explained model; explainer: its trained Explainer (``None`` leaves
            the Explainer out); normalization: the images' (FGVis's black reference);
        seed: the random masks' seed; settings: per-method keyword arguments overriding
            :data:`DEMO_SETTINGS`, keyed by method name.
        score: the score the black-box and optimisation methods explain (RISE, FGVis,
            undesirable pixels): ``"sigmoid"`` for a multi-label classifier (the package's
            own), ``"softmax"`` for a single-label one (see :func:`captum_explainer.scores.score_for_task`).
    """
    settings = {**DEMO_SETTINGS, **(settings or {})}
    specs = [
        MethodSpec("Explainer", ExplainerAttribution(explainer, classifier), scale="none"),
        MethodSpec("Grad-CAM", GradCAM(classifier)),
        MethodSpec("RISE", RISE(classifier, score=score), dict(seed=seed, **settings["RISE"])),
        MethodSpec(
            "Integrated Gradients",
            IntegratedGradients(classifier),
            dict(settings["Integrated Gradients"]),
        ),
        MethodSpec(
            "FGVis",
            FGVis(classifier, normalization=normalization, score=score),
            dict(settings["FGVis"]),
            scale="none",
            reduction="mean",
        ),
        MethodSpec(
            "Undesirable pixels",
            UndesirablePixels(classifier, score=score),
            dict(seed=seed, **settings["Undesirable pixels"]),
            labels_as="present",
            per_class=False,
        ),
    ]
    return [s for s in specs if explainer is not None or s.name != "Explainer"]


#: Methods whose every-class maps are cheap enough for class specificity (the others would
#: need one run per class and image: FGVis's optimisation, undesirable pixels' mask pass).
SPECIFICITY_METHODS = ("Explainer", "Grad-CAM", "RISE")

#: Command-line names of the methods.
METHOD_NAMES = {
    "explainer": "Explainer",
    "gradcam": "Grad-CAM",
    "rise": "RISE",
    "integrated-gradients": "Integrated Gradients",
    "fgvis": "FGVis",
    "undesirable": "Undesirable pixels",
}


def select_methods(specs: Sequence[MethodSpec], names: Sequence[str]) -> list[MethodSpec]:
    """The specs named on the command line (see :data:`METHOD_NAMES`), in that order."""
    unknown = [n for n in names if n not in METHOD_NAMES]
    if unknown:
        raise ValueError(f"unknown method {unknown[0]!r}; choose from {sorted(METHOD_NAMES)}")
    by_name = {s.name: s for s in specs}
    missing = [n for n in names if METHOD_NAMES[n] not in by_name]
    if missing:
        raise ValueError(f"method {missing[0]!r} needs --explainer (an Explainer checkpoint)")
    return [by_name[METHOD_NAMES[n]] for n in names]
