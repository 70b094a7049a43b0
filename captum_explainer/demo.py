"""The demo, the package's main job: every method on fresh synthetic images, side by side.

With the shipped classifier and Explainer, explain a batch of images the models never
saw with all six methods, score every map against the pixel-exact ground truth, and
write the figures, the table and ``report.html``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from captum_explainer.compare import (
    SPECIFICITY_METHODS,
    ComparisonResult,
    all_class_maps,
    compare,
    default_methods,
)
from captum_explainer.data import SYNTHETIC_NORMALIZATION, SyntheticScenes, collate_items
from captum_explainer.metrics.faithfulness import (
    class_specificity,
    deletion_insertion,
    random_maps,
    saliency_metric,
    undesirable_recovery,
)


def faithfulness_rows(
    classifier: nn.Module, result: ComparisonResult, n_steps: int = 32, score: str = "sigmoid"
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Deletion/insertion curves (read with ``score``) and the saliency metric of every
    method of ``result``, with the class's score on the blank image beside them."""
    images = result.images[result.pair_images]
    curves, rows = {}, []
    for method in result.methods:
        curves[method.name] = deletion_insertion(
            classifier,
            images,
            method.pair_maps,
            result.pair_classes,
            n_steps=n_steps,
            score=score,
        )
        saliency = saliency_metric(classifier, result.images, method.merged, result.labels)
        rows.append(
            {
                "method": method.name,
                "deletion_auc": float(curves[method.name].deletion_auc.mean()),
                "insertion_auc": float(curves[method.name].insertion_auc.mean()),
                "blank_score": float(curves[method.name].blank_score.mean()),
                "saliency_metric": float(saliency.mean()),
            }
        )
    return curves, rows


@dataclass
class DemoMeasurements:
    """Everything the demo measured on its images (see :func:`measure`)."""

    result: ComparisonResult
    curves: dict[str, Any]
    faithfulness: list[dict[str, Any]]
    class_maps: dict[str, torch.Tensor]
    specificity: dict[str, Any]
    recovery: list[dict[str, Any]]


def measure(
    classifier: nn.Module,
    methods: list,
    images: torch.Tensor,
    labels: torch.Tensor,
    segmentation: torch.Tensor,
    progress: bool = True,
    score: str = "sigmoid",
) -> DemoMeasurements:
    """Run every method, then the faithfulness games, class specificity and recovery, all
    read with the classifier's ``score`` (``"sigmoid"`` or ``"softmax"``)."""
    bar = tqdm(total=len(methods) + 3, desc="demo", disable=not progress)

    def announce(name: str) -> None:
        bar.set_postfix_str(name)
        bar.update(1)

    result = compare(methods, images, labels, segmentation, progress=announce)
    announce("deletion/insertion")
    curves, faithfulness = faithfulness_rows(classifier, result, score=score)
    announce("class specificity")
    class_maps = {
        m.name: all_class_maps(m, images, labels.shape[1], result[m.name].class_maps)
        for m in methods
        if m.name in SPECIFICITY_METHODS
    }
    specificity = {
        name: class_specificity(classifier, images, maps, labels, score=score)
        for name, maps in class_maps.items()
    }
    announce("undesirable-pixel recovery")
    recovery = _recovery_rows(classifier, result, score)
    bar.close()
    return DemoMeasurements(result, curves, faithfulness, class_maps, specificity, recovery)


def run_demo(
    out: str | Path = "demo-output",
    n_images: int = 8,
    seed: int = 0,
    device: str = "cpu",
    progress: bool = True,
    classifier: nn.Module | None = None,
    explainer: nn.Module | None = None,
    settings: dict[str, dict[str, Any]] | None = None,
    score: str = "sigmoid",
) -> Path:
    """Explain ``n_images`` fresh synthetic images with every method and write the report.

    Args:
        out: the output folder (``report.html``, figures, ``results.csv``/``.json``).
        n_images: how many images.
        seed: picks the images (a split the shipped models never trained on) and the
            random masks of RISE and undesirable pixels.
        device: torch device.
        progress: show progress bars.
        classifier, explainer: default the shipped synthetic ones.
        settings: per-method keyword arguments overriding :data:`DEMO_SETTINGS`.
        score: how the classifier's logits become the scores the methods explain and the
            faithfulness games read; the shipped classifier is multi-label: ``"sigmoid"``.

    Returns:
        The path of ``report.html``.
    """
    from captum_explainer.models.pretrained import synthetic_classifier, synthetic_explainer

    if n_images < 1:
        raise ValueError(f"n_images must be >= 1, got {n_images!r}")
    device = torch.device(device)
    classifier = (classifier or synthetic_classifier()).to(device).eval()
    explainer = (explainer or synthetic_explainer()).to(device).eval()
    data = SyntheticScenes(n_images, seed=10_000 + seed, split="test")
    images, labels, segmentation = (
        t.to(device) for t in collate_items([data[i] for i in range(n_images)])
    )
    methods = default_methods(
        classifier, explainer, SYNTHETIC_NORMALIZATION, seed, settings, score=score
    )
    measured = measure(classifier, methods, images, labels, segmentation, progress, score)
    print(measured.result.to_markdown())
    notes = [
        f"{n_images} fresh SyntheticScenes images (seed {10_000 + seed}, split 'test'), the shipped "
        f"classifier and Explainer. Each image's map is the max over its labelled classes' maps.",
        "Mask scores and pointing games are against the pixel-exact ground truth; saliency maps "
        "are scaled min-max (each map to [0, 1]), masks (Explainer, FGVis) are used as they are. "
        "Undesirable pixels show what hinders a class, so low overlap with the objects is "
        "expected of them.",
        f"Deletion, insertion, class specificity and recovery read the classifier's {score} "
        f"scores; blank_score is the class's score on the all-baseline image, where every "
        f"deletion curve ends.",
    ]
    return _write(out, measured, list(data.classes), notes)


def _write(
    out: str | Path, measured: DemoMeasurements, classes: list[str], notes: list[str]
) -> Path:
    from captum_explainer.report import write_report
    from captum_explainer.visualization import (
        causal_curves_figure,
        class_view,
        comparison_grid,
        specificity_heatmap,
    )

    result = measured.result
    figures = {
        "comparison_grid": comparison_grid(result, SYNTHETIC_NORMALIZATION, class_names=classes),
        "class_specific_view": class_view(
            result.images[0],
            {n: m[0] for n, m in measured.class_maps.items()},
            classes,
            SYNTHETIC_NORMALIZATION,
        ),
        "deletion_insertion": causal_curves_figure(measured.curves),
    }
    for name, value in measured.specificity.items():
        key = f"class_specificity_{name.lower().replace('-', '_')}"
        figures[key] = specificity_heatmap(value, classes, name)
    specificity_rows = [
        {
            "method": n,
            "diagonal": s.diagonal,
            "off_diagonal": s.off_diagonal,
            "blank_image": float(s.blank.mean()),
        }
        for n, s in measured.specificity.items()
    ]
    return write_report(
        out,
        result.rows(),
        figures,
        title="captum-explainer demo",
        notes=notes,
        extra_tables={
            "Faithfulness": measured.faithfulness,
            "Class specificity": specificity_rows,
            "Undesirable-pixel recovery": measured.recovery,
        },
    )


def _recovery_rows(
    classifier: nn.Module, result: ComparisonResult, score: str
) -> list[dict[str, Any]]:
    images = result.images[result.pair_images]
    rows = []
    reference = random_maps(result["Undesirable pixels"].pair_maps, seed=0)
    for name, maps in (
        ("Undesirable pixels", result["Undesirable pixels"].pair_maps),
        ("random map", reference),
    ):
        for q, values in undesirable_recovery(
            classifier, images, maps, result.pair_classes, score=score
        ).items():
            rows.append({"map": name, "removed_fraction": q, **values})
    return rows
