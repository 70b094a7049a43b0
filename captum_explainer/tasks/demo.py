"""The demo, the package's main job: every method on fresh synthetic images, side by side.

With the shipped classifier and Explainer, explain a batch of images the models never
saw with every registered method, score every map against the pixel-exact ground truth as
``evaluate`` scores a batch, and write the figures, the table and ``report.html``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from captum_explainer._deprecation import renamed_values
from captum_explainer.data import SYNTHETIC_NORMALIZATION, Normalization, collate_items
from captum_explainer.data.factory import GENERATED
from captum_explainer.evaluation.aggregate import AVERAGING_NOTE, method_row
from captum_explainer.evaluation.comparison import ComparisonResult
from captum_explainer.evaluation.controls import (
    MASK_ONLY_MIN_MASKS,
    mask_only_checks,
    mask_only_columns,
)
from captum_explainer.evaluation.faithfulness import score_batch
from captum_explainer.evaluation.registry import (
    MethodSpec,
    Models,
    build_methods,
    method_records,
    record_explain,
    records_with,
    time_reference,
    with_shorthands,
)
from captum_explainer.explainer.loss import loss_weights
from captum_explainer.explainer.train import ExplainerTrainingConfig, run_explainer_training
from captum_explainer.metrics import (
    random_maps,
    undesirable_recovery,
)
from captum_explainer.metrics.randomization import (
    LEAKAGE_THRESHOLD,
    RandomizationResult,
    leakage,
    model_randomization_all,
)
from captum_explainer.models import pretrained
from captum_explainer.output_files import check_output_folder
from captum_explainer.report import FigureText, write_report
from captum_explainer.report.figures import (
    causal_curves_figure,
    class_specific_view,
    comparison_grid,
    randomization_figure,
    specificity_heatmap,
)
from captum_explainer.training.classifier import ClassifierTrainingConfig, fit_classifier


@dataclass
class DemoMeasurements:
    """Everything the demo measured on its images (see :func:`measure`)."""

    result: ComparisonResult
    curves: dict[str, Any]
    faithfulness: list[dict[str, Any]]
    class_maps: dict[str, torch.Tensor]
    specificity: dict[str, Any]
    recovery: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    randomisation: list[RandomizationResult] = field(default_factory=list)
    sanity: list[dict[str, Any]] = field(default_factory=list)


def measure_demo(
    classifier: nn.Module,
    methods: list[MethodSpec],
    images: torch.Tensor,
    labels: torch.Tensor,
    segmentation: torch.Tensor,
    progress: bool = True,
    score: str = "sigmoid",
    canvas: str = "blur",
    normalization: Normalization = SYNTHETIC_NORMALIZATION,
    road: bool = False,
) -> DemoMeasurements:
    """Score every method on the demo's images as ``evaluate`` scores a batch
    (:func:`~captum_explainer.evaluation.faithfulness.score_batch`, rows by the one aggregation,
    :func:`~captum_explainer.evaluation.aggregate.method_row`), then undesirable-pixel
    recovery and the sanity checks, all read with the classifier's ``score``."""
    bar = tqdm(total=len(methods) + 3, desc="demo", disable=not progress)
    running: list[str] = []

    def announce(name: str) -> None:
        # The count is of finished steps and the label names the one running: a step is
        # counted when the next one starts (and the last when the bar closes).
        if running:
            bar.update(1)
        running[:] = [name]
        bar.set_postfix_str(name)

    result, faithfulness = score_batch(
        methods,
        classifier,
        images,
        labels,
        segmentation,
        score=score,
        canvas=canvas,
        road=road,
        progress=lambda name: announce(name),
    )
    announce("deletion/insertion, class specificity")
    checks = mask_only_checks(
        faithfulness.shapes,
        result.pair_classes,
        result.labels.shape[1],
        faithfulness.truth_shapes,
    )
    rows = [
        method_row(
            name,
            faithfulness.per_image[name],
            faithfulness.per_pair[name],
            result.pair_classes,
            result.labels.shape[1],
            **mask_only_columns(checks, name),
        )
        for name in faithfulness.per_pair
    ]
    announce("undesirable-pixel recovery")
    recovery = _recovery_rows(classifier, result, score)
    announce("sanity checks")
    randomisation, sanity = _sanity(classifier, result, score, normalization)
    bar.update(1)
    bar.close()
    return DemoMeasurements(
        result,
        faithfulness.curves,
        rows,
        faithfulness.class_maps,
        faithfulness.specificity,
        recovery,
        faithfulness.warnings,
        randomisation,
        sanity,
    )


def _sanity(
    classifier: nn.Module, result: ComparisonResult, score: str, normalization: Normalization
) -> tuple[list[RandomizationResult], list[dict[str, Any]]]:
    """Model randomisation of the cheap model-dependent methods, and the leakage check of
    the Explainer's masks, on the demo's images (each for its first labelled class)."""
    first = result.labels.float().argmax(1)
    # The cheap model-dependent methods (``in_demo_sanity``); ``sanity`` checks the others.
    explains = {
        r.name: record_explain(r, normalization, "sanity", score)
        for r in method_records()
        if r.in_demo_sanity
    }
    # One randomised model per step, explained by every method.
    results = model_randomization_all(explains, classifier, result.images, first)
    rows = [
        {
            "method": check.method,
            "check": "model randomisation",
            "value": check.mean("spearman_abs")[-1],
            "verdict": "pass" if check.passed else "FAIL",
        }
        for check in results
    ]
    names = [m.name for m in result.methods]
    for record in records_with("leakage_check"):
        every = result[record.name].class_maps if record.name in names else None
        if every is None or result.images.shape[0] < 2:
            continue
        # One mask per image (its first class), so that "another image" is another image.
        masks = every[torch.arange(len(first)), first.to(every.device)][:, None].clamp(0, 1)
        check = leakage(classifier, masks, result.images, first, score)
        rows.append(
            {
                "method": record.name,
                "check": "leakage (shape share)",
                "value": check.shape_share,
                "verdict": "pass" if check.shape_share < LEAKAGE_THRESHOLD else "FAIL",
            }
        )
    return results, rows


@dataclass
class DemoSettings:
    """What ``captum-explainer demo`` runs, as one value (:func:`run_demo`).

    Args:
        out: the output folder (``report.html``, figures, ``results.csv``/``.json``).
        n_images: how many images.
        seed: picks the images (a split the shipped models never trained on) and the
            random masks of RISE and undesirable pixels.
        device: torch device.
        progress: show progress bars.
        classifier: default the shipped synthetic one (for another world give it with its
            Explainer, e.g. the ResNet-18 of docs/real-objects.md).
        networks: the methods' own trained networks by key (``"explainer"``,
            ``"amortized-rise"``, a plug-in's); with the shipped classifier, the shipped ones
            where none is given. A method whose network is missing has no column.
        overrides: per record key, ``attribute`` arguments replacing the ``demo`` preset's.
        score: how the classifier's logits become the scores the methods explain and the
            faithfulness games read; the shipped classifier is multi-label: ``"sigmoid"``.
        canvas: insertion's canvas (:data:`~captum_explainer.metrics.CANVASES`).
        road: also ROAD (remove and debias) in the faithfulness table, about 20x the
            deletion game's cost on a CPU.
        self_contained: one ``report.html`` with the figures embedded (to share as a file).
        world: ``"synthetic"`` or ``"real_objects"``
            (:data:`~captum_explainer.data.factory.GENERATED`).
        image_size: the images' side (default: the world's, 64 or 128).
    """

    out: str | Path = "demo-output"
    n_images: int = 8
    seed: int = 0
    device: str = "cpu"
    progress: bool = True
    classifier: nn.Module | None = None
    networks: Mapping[str, nn.Module] = field(default_factory=dict)
    overrides: Mapping[str, Mapping[str, Any]] | None = None
    score: str = "sigmoid"
    canvas: str = "blur"
    road: bool = False
    self_contained: bool = False
    world: str = "synthetic"
    image_size: int | None = None


def demo_settings(out: str | Path = "demo-output", **options: Any) -> DemoSettings:
    """:class:`DemoSettings` from keywords, 0.3's included: ``settings`` (the per-key
    overrides), ``explainer`` and ``amortized`` (shorthands for two ``networks``)."""
    networks = with_shorthands(
        options.pop("networks", None),
        options.pop("explainer", None),
        options.pop("amortized", None),
    )
    if "settings" in options:
        options["overrides"] = options.pop("settings")
    return DemoSettings(out, networks=networks, **options)


def run_demo(out: str | Path | DemoSettings = "demo-output", **options: Any) -> Path:
    """Explain ``n_images`` fresh images of a generated world with every method and write the
    report.

    Args:
        out: a :class:`DemoSettings`, or the output folder with the settings as keywords
            (:func:`demo_settings`; 0.3's ``settings``, ``explainer`` and ``amortized``
            included).

    Returns:
        The path of ``report.html``.

    Example:
        >>> import tempfile
        >>> from captum_explainer.evaluation import method_records
        >>> from captum_explainer.tasks.demo import run_demo
        >>> quick = {record.key: record.presets["quick"] for record in method_records()}
        >>> with tempfile.TemporaryDirectory() as out:
        ...     report = run_demo(out, n_images=2, overrides=quick, progress=False)
        ...     written = sorted(path.name for path in report.parent.iterdir())
        | method | seconds_per_image | ...
        >>> report.name, "results.csv" in written, "comparison_grid.png" in written
        ('report.html', True, True)
    """
    settings = out if isinstance(out, DemoSettings) else demo_settings(out, **options)
    out, n_images, seed, world = settings.out, settings.n_images, settings.seed, settings.world
    score, canvas, classifier = settings.score, settings.canvas, settings.classifier
    if world not in GENERATED:
        raise ValueError(f"world must be one of {sorted(GENERATED)}, got {world!r}")
    check_output_folder(out)
    if n_images < 1:
        raise ValueError(f"n_images must be >= 1, got {n_images!r}")
    device = torch.device(settings.device)
    given = dict(settings.networks)
    if world != "synthetic" and (classifier is None or "explainer" not in given):
        raise ValueError(
            f"world {world!r} needs its classifier and Explainer (--classifier, --explainer)"
        )
    if classifier is None:  # the shipped classifier: the shipped networks where none is given
        for record in method_records():
            if record.network is not None and record.shipped_network is not None:
                given.setdefault(record.network, record.shipped_network(device))
    classifier = (classifier or pretrained.synthetic_classifier()).to(device).eval()
    given = {key: network.to(device).eval() for key, network in given.items()}
    kind, default_size, normalization = GENERATED[world]
    size = settings.image_size or default_size
    data = kind(n_images, image_size=size, seed=10_000 + seed, split="test")
    images, labels, segmentation = (
        t.to(device) for t in collate_items([data[i] for i in range(n_images)])
    )
    models = Models(classifier, normalization=normalization, score=score, networks=given)
    methods = build_methods(models, None, "demo", seed, settings.overrides)
    measured = measure_demo(
        classifier,
        methods,
        images,
        labels,
        segmentation,
        settings.progress,
        score,
        canvas,
        normalization,
        settings.road,
    )
    print(measured.result.to_markdown())
    notes = [
        f"{n_images} fresh {kind.__name__} images (seed {10_000 + seed}, split 'test'), "
        f"{'the shipped' if world == 'synthetic' else 'the given'} classifier and Explainer. "
        f"Each image's map is the max over its labelled classes' maps.",
        "Mask scores and pointing games are against the pixel-exact ground truth; saliency maps "
        "are scaled min-max (each map to [0, 1]), the Explainer's masks are used as they are, "
        "FGVis's deletion maps divided by their maximum. "
        "Undesirable pixels show what hinders a class, so low overlap with the objects is "
        "expected of them.",
        f"Deletion, insertion, class specificity and recovery read the classifier's {score} "
        f"scores; blank_score is the class's score on the all-baseline image, where every "
        f"deletion curve ends; canvas_score its score on insertion's {canvas!r} canvas, where "
        f"every insertion curve starts.",
        "Beside them, the sharpness control: the same games on each map blurred to "
        "the blur reference's smoothness (the *_blurred columns). The mask-only check (can a mask's "
        f"shape alone tell its class?) needs at least {MASK_ONLY_MIN_MASKS} (image, class) "
        "pairs to say anything; with fewer it is left out here: run captum-explainer "
        "evaluate on more images.",
        AVERAGING_NOTE,
        *(f"Warning: {w}." for w in measured.warnings),
    ]
    return _write(out, measured, list(data.classes), notes, normalization, settings.self_contained)


def _write(
    out: str | Path,
    measured: DemoMeasurements,
    classes: list[str],
    notes: list[str],
    normalization: Normalization,
    self_contained: bool = False,
) -> Path:
    result = measured.result
    figures = {
        "comparison_grid": comparison_grid(result, normalization, class_names=classes),
        "class_specific_view": class_specific_view(result, classes, normalization),
        "deletion_insertion": causal_curves_figure(measured.curves),
    }
    captions = {
        "comparison_grid": FigureText(
            "Every method's map, side by side",
            "One row per image (its classes on the left), the pixel-exact ground truth, then "
            "each method's map: per image the maximum over its labelled classes' maps, scaled "
            "as the table scores them.",
        ),
        "class_specific_view": FigureText(
            "One map per class: are the maps class-specific?",
            "The first image with several classes: each method's maps of its present classes "
            "and of two absent ones, on one scale per image and method (as the class IoU, "
            "own-object share and absent-class mass columns score them). A class-specific "
            "method lights up only the objects of the class; an absent class's map is empty.",
        ),
        "deletion_insertion": FigureText(
            "Deletion and insertion curves",
            "Mean score of the explained class while the map's top pixels are deleted (left, "
            "lower is better) or revealed on the insertion canvas (right, higher is better); "
            "the legend gives each area.",
        ),
    }
    if measured.randomisation:
        figures["model_randomization"] = randomization_figure(measured.randomisation)
        captions["model_randomization"] = FigureText(
            "Sanity check: the maps while the classifier is randomised",
            "Mean Spearman rank correlation and SSIM of the absolute maps against the original "
            "ones after each randomisation step, from the output layer down; a method that "
            "depends on the model falls below the dashed line.",
        )
    for name, value in measured.specificity.items():
        # A file name from the method's name: "Amortized RISE" -> amortized_rise.
        key = "class_specificity_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
        figures[key] = specificity_heatmap(value, classes, name)
        captions[key] = FigureText(
            f"Class specificity of {name}",
            f"Row t, column k: the score of class t on images holding t, masked with {name}'s "
            f"map of class k. A class-specific method has a bright diagonal and a dark rest.",
        )
    specificity_rows = [
        {
            "method": n,
            "diagonal": s.diagonal,
            "off_diagonal": s.off_diagonal,
            "blank_image": float(s.blank.mean()),
            "unmasked": float(s.unmasked.nanmean()),
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
            "Sanity checks": measured.sanity,
        },
        captions=captions,
        self_contained=self_contained,
        time_reference=time_reference(),
    )


def _recovery_rows(
    classifier: nn.Module, result: ComparisonResult, score: str
) -> list[dict[str, Any]]:
    images = result.images[result.pair_images]
    names = [m.name for m in result.methods]
    checked = [r.name for r in records_with("recovery_check") if r.name in names]
    if not checked:
        return []
    rows = []
    # One random reference, shaped like the first checked method's maps.
    maps = {name: result[name].pair_maps for name in checked}
    maps["random map"] = random_maps(maps[checked[0]], seed=0)
    for name, pair_maps in maps.items():
        for q, values in undesirable_recovery(
            classifier, images, pair_maps, result.pair_classes, score=score
        ).items():
            rows.append({"map": name, "removed_fraction": q, **values})
    return rows


def retrain_shipped_models(
    folder: str | Path, device: str = "cpu", progress: bool = True
) -> tuple[nn.Module, nn.Module]:
    """Train the classifier, then the Explainer for it, as the shipped manifests record
    (their ``retrain`` settings, the same as their ``command``), into ``folder/classifier``
    and ``folder/explainer``; return both, loaded from their ``best.pt``."""
    folder = Path(folder)
    recipe = pretrained.manifest(pretrained.SYNTHETIC_CLASSIFIER)
    fit_classifier(
        ClassifierTrainingConfig(
            out_dir=folder / "classifier",
            device=device,
            progress=progress,
            command=recipe["command"],
            **recipe["retrain"]["config"],
        ),
        **recipe["retrain"]["data"],
    )
    recipe = pretrained.manifest(pretrained.SYNTHETIC_EXPLAINER)
    run_explainer_training(
        ExplainerTrainingConfig(
            out_dir=folder / "explainer",
            weights=loss_weights(**recipe["retrain"].get("loss_weights", {})),
            progress=progress,
            command=recipe["command"],
            **recipe["retrain"]["config"],
        ),
        classifier=folder / "classifier" / "best.pt",
        device=device,
        **recipe["retrain"]["data"],
    )
    classifier, explainer, _ = pretrained.load_models(
        folder / "classifier" / "best.pt", folder / "explainer" / "best.pt", map_location=device
    )
    assert explainer is not None  # given explicitly, so always loaded
    return classifier, explainer


# 0.3's name of measure_demo, until 0.5.
__getattr__ = renamed_values(__name__, {"measure": (lambda: measure_demo, "measure_demo")})
