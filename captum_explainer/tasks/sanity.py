"""The sanity checks run for the catalogue's methods on a classifier, as a report: what
``captum-explainer sanity`` does."""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from captum_explainer.data import Normalization, collate_items
from captum_explainer.data.loading import evaluable_indices
from captum_explainer.evaluation.registry import (
    default_sanity_keys,
    model_dependent_record,
    record_explain,
    work_overrides,
)
from captum_explainer.explainer.loss import loss_weights
from captum_explainer.explainer.train import ExplainerTrainingConfig, train_explainer
from captum_explainer.metrics import mask_scores
from captum_explainer.metrics.randomization import (
    PASS_THRESHOLD,
    RandomizationResult,
    model_randomization_all,
    parameterized_layers,
    random_logit,
    randomize_,
    similarities,
)
from captum_explainer.models.loading import load_explainer
from captum_explainer.output_files import check_output_folder
from captum_explainer.report import FigureText, write_report
from captum_explainer.report.figures import randomization_figure
from captum_explainer.tasks.task_setup import TaskSetup, set_up


@dataclass
class SanitySettings:
    """What ``captum-explainer sanity`` runs, as one value (:func:`run_sanity`).

    Args:
        out: the report folder.
        methods: record keys of model-dependent methods (default:
            :func:`~captum_explainer.evaluation.registry.default_sanity_keys`, every
            model-dependent record not too slow for the checks).
        classifier: a classifier checkpoint (default: the shipped synthetic one).
        dataset, root: the images' dataset and its folder; n_images: how many.
        mode: ``"cascading"`` or ``"independent"`` randomisation.
        work: work counts by keyword (``{"n_masks": 500}``) for every method that has one.
        score, seed, device, self_contained: as the other tasks take them.
        explainer_steps: with ``> 0``, also :func:`explainer_randomization` with that budget.

    Example:
        >>> from captum_explainer.tasks.sanity import SanitySettings
        >>> settings = SanitySettings("sanity-output", methods=["gradcam"], n_images=4)
        >>> settings.mode, settings.work
        ('cascading', {})
    """

    out: str | Path
    methods: Sequence[str] | None = None
    classifier: str | Path | None = None
    dataset: str = "synthetic"
    root: str | Path | None = None
    n_images: int = 8
    mode: str = "cascading"
    work: Mapping[str, int] = field(default_factory=dict)
    score: str | None = None
    seed: int = 0
    device: str = "cpu"
    self_contained: bool = False
    explainer_steps: int = 0


def sanity_settings(out: str | Path, **options: Any) -> SanitySettings:
    """:class:`SanitySettings` from keywords, 0.3's ``rise_masks`` and ``fgvis_iterations``
    included (into ``work`` as ``n_masks`` and ``n_iter``).

    Example:
        >>> from captum_explainer.tasks.sanity import sanity_settings
        >>> sanity_settings("out", rise_masks=500).work
        {'n_masks': 500}
    """
    work = dict(options.pop("work", None) or {})
    for keyword, key in (("rise_masks", "n_masks"), ("fgvis_iterations", "n_iter")):
        value = options.pop(keyword, None)
        if value is not None:
            work.setdefault(key, value)
    return SanitySettings(out, work=work, **options)


def run_sanity(
    out: str | Path | SanitySettings, **options: Any
) -> tuple[list[dict[str, Any]], Path]:
    """Model randomisation and the random-logit check for each method on ``n_images``
    images (their first labelled class), written as a report into ``out``; with
    ``explainer_steps > 0`` also :func:`explainer_randomization` with that budget.

    Args:
        out: a :class:`SanitySettings`, or the report folder with the settings as keywords
            (:func:`sanity_settings`).

    Returns:
        ``(verdict rows, report path)``.

    Example:
        >>> import tempfile
        >>> from captum_explainer.tasks.sanity import run_sanity
        >>> with tempfile.TemporaryDirectory() as out:
        ...     rows, report = run_sanity(out, methods=["gradcam"], n_images=2)
        >>> sorted({row["method"] for row in rows})
        ['Grad-CAM']
    """
    settings = out if isinstance(out, SanitySettings) else sanity_settings(out, **options)
    out, device, seed, mode = settings.out, settings.device, settings.seed, settings.mode
    n_images, dataset, explainer_steps = (
        settings.n_images,
        settings.dataset,
        settings.explainer_steps,
    )
    check_output_folder(out)
    setup = set_up(settings.classifier, device=device, score=settings.score)
    model, normalization, score = setup.classifier, setup.normalization, setup.score
    data = setup.datasets(
        dataset,
        settings.root,
        train_size=max(1, explainer_steps * 16),
        val_size=n_images,
        seed=seed,
    )
    indices = evaluable_indices(data.val, n_images)
    images, labels, segmentation = collate_items([data.val[i] for i in indices])
    images, targets = images.to(device), labels.float().argmax(1).to(device)
    overrides = work_overrides(**settings.work)
    keys = default_sanity_keys() if settings.methods is None else settings.methods
    records = [model_dependent_record(key) for key in keys]
    explains = {
        r.name: record_explain(
            r, normalization, "sanity", score, seed, overrides=overrides.get(r.key)
        )
        for r in records
    }
    # Each randomised model is made once and explained by every method.
    results = model_randomization_all(explains, model, images, targets, mode, seed=seed)
    verdicts = _method_verdicts(results, explains, model, images, targets, setup, mode, seed)
    explainer_note = "The Explainer's own check was not run (--explainer-steps 0)."
    if explainer_steps > 0:
        check = explainer_randomization(
            model,
            data.require_train(),
            data.val,
            images,
            targets,
            data.classes,
            normalization,
            segmentation.to(device) if isinstance(segmentation, torch.Tensor) else None,
            steps=explainer_steps,
            seed=seed,
        )
        verdicts.append(_explainer_verdict(check, explainer_steps))
        explainer_note = (
            f"Explainer check ({explainer_steps} steps each, same seed and random "
            f"initialisation): continuous IoU of the masks against the class's pixels "
            f"{check.iou_real:.3f} with the classifier, {check.iou_randomised:.3f} with its "
            f"randomised copy."
        )
    notes = [
        f"{len(indices)} images of {dataset}, each explained for its first labelled class; the "
        f"classifier's layers randomised {mode}ly from the output down, on a copy.",
        f"Verdict: a method passes when the rank correlation of its absolute maps with the "
        f"original ones falls below {PASS_THRESHOLD} once every layer is randomised "
        f"(independent mode: for at least one layer). The Explainer's masks do not depend on "
        f"the classifier at run time, so it is checked by training instead.",
        explainer_note,
    ]
    report = _write_report(out, verdicts, results, notes, settings.self_contained)
    return verdicts, report


def _method_verdicts(
    results: list[RandomizationResult],
    explains: dict[str, Callable],
    model: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    setup: TaskSetup,
    mode: str,
    seed: int,
) -> list[dict[str, Any]]:
    """One row per method: its similarity once randomised, the random-logit check, the
    verdict."""
    verdicts = []
    for result, explain in zip(results, explains.values()):
        logit = random_logit(explain, model, images, targets, len(setup.classes), seed)
        final = result.mean("spearman_abs")
        verdicts.append(
            {
                "method": result.method,
                "mode": mode,
                "spearman_abs_randomised": final[-1] if mode == "cascading" else min(final),
                "ssim_abs_randomised": result.mean("ssim_abs")[-1],
                "random_logit_spearman": float(logit["spearman"].mean()),
                "verdict": "pass" if result.passed else "FAIL",
            }
        )
    return verdicts


def _explainer_verdict(check: ExplainerRandomizationResult, steps: int) -> dict[str, Any]:
    """The Explainer's row: two Explainers trained alike, for the classifier and a
    randomised copy."""
    return {
        "method": "Explainer",
        "mode": f"trained {steps} steps, real vs randomised classifier",
        "spearman_abs_randomised": check.similarity["spearman_abs"],
        "ssim_abs_randomised": check.similarity["ssim_abs"],
        "random_logit_spearman": float("nan"),
        "verdict": "pass" if check.passed else "FAIL",
    }


def _write_report(
    out: str | Path,
    verdicts: list[dict[str, Any]],
    results: list[RandomizationResult],
    notes: list[str],
    self_contained: bool,
) -> Path:
    return write_report(
        out,
        verdicts,
        {"model_randomization": randomization_figure(results)},
        title="captum-explainer sanity checks",
        notes=notes,
        extra_tables={"Similarity after each step": [r for x in results for r in x.rows()]},
        captions={
            "model_randomization": FigureText(
                "Similarity to the original maps while the classifier is randomised",
                "Per method, the mean Spearman rank correlation and SSIM of the absolute maps "
                "against the original ones after each randomisation step (left: the output "
                "layer). A method that depends on the model falls towards 0.",
            )
        },
        self_contained=self_contained,
    )


@dataclass
class ExplainerRandomizationResult:
    """Two Explainers trained alike, one for the classifier and one for a randomised copy:
    ``similarity`` of their masks (measure -> mean over images, :data:`MEASURES`), each one's
    continuous IoU against the ground truth where it was given, and the verdict: the masks
    depend on the classifier when the rank correlation of their absolute values is below
    :data:`~captum_explainer.sanity.PASS_THRESHOLD`.

    Example:
        >>> from captum_explainer.tasks.sanity import ExplainerRandomizationResult
        >>> similarity = {"spearman": 0.1, "spearman_abs": 0.2, "ssim": 0.1, "ssim_abs": 0.2}
        >>> result = ExplainerRandomizationResult(steps=150, similarity=similarity)
        >>> result.passed  # the two Explainers' masks differ: they depend on the classifier
        True
    """

    steps: int
    similarity: dict[str, float]
    iou_real: float = float("nan")
    iou_randomised: float = float("nan")
    threshold: float = PASS_THRESHOLD

    @property
    def passed(self) -> bool:
        return self.similarity["spearman_abs"] < self.threshold


def explainer_randomization(
    classifier: nn.Module,
    train_set: Any,
    val_set: Any,
    images: torch.Tensor,
    targets: torch.Tensor,
    classes: Sequence[str],
    normalization: Normalization,
    segmentation: torch.Tensor | None = None,
    steps: int = 150,
    batch_size: int = 16,
    lr: float = 1e-3,
    seed: int = 0,
    work_dir: str | Path | None = None,
) -> ExplainerRandomizationResult:
    """The learned Explainer's own randomisation test: model randomisation cannot change its
    masks, which come from its own network, so train two small Explainers with the same seed,
    initialisation (random, not from the classifier, so that both start alike), budget
    (``steps`` steps of ``batch_size``) and loss, one for ``classifier`` and one for a copy
    with every layer randomised, and compare their masks of ``targets`` on ``images``.

    The user's classifier is not changed. Checkpoints go to ``work_dir`` (default: a
    temporary folder, removed afterwards).

    Example:
        >>> import torch
        >>> from captum_explainer import SyntheticScenes
        >>> from captum_explainer.data import SYNTHETIC_NORMALIZATION
        >>> from captum_explainer.models import synthetic_classifier
        >>> from captum_explainer.tasks.sanity import explainer_randomization
        >>> train, val = SyntheticScenes(16, split="train"), SyntheticScenes(8, split="val")
        >>> images, targets = torch.stack([val[i][0] for i in range(4)]), torch.tensor([0, 1, 2, 3])
        >>> result = explainer_randomization(
        ...     synthetic_classifier(), train, val, images, targets, train.classes,
        ...     SYNTHETIC_NORMALIZATION, steps=2, batch_size=8,
        ... )  # fmt: skip
        >>> sorted(result.similarity), isinstance(result.passed, bool)
        (['spearman', 'spearman_abs', 'ssim', 'ssim_abs'], True)
    """
    randomised = copy.deepcopy(classifier).eval()
    generator = torch.Generator().manual_seed(seed)
    for layer in parameterized_layers(randomised):
        randomize_(randomised.get_submodule(layer), generator)
    masks = {}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(work_dir) if work_dir is not None else Path(scratch)
        for name, model in (("real", classifier), ("randomised", randomised)):
            config = ExplainerTrainingConfig(
                out_dir=root / name,
                epochs=1,
                max_steps_per_epoch=steps,
                batch_size=batch_size,
                lr=lr,
                weights=loss_weights(l_m=0.5, a_max=0.15),  # the shipped Explainer's
                init_from_classifier=False,
                progress=False,
                seed=seed,
            )
            train_explainer(config, model, train_set, val_set, list(classes), normalization)
            network, _ = load_explainer(root / name / "last.pt", images.device)
            with torch.no_grad():
                every = torch.sigmoid(network(images))
            masks[name] = every[torch.arange(len(targets)), targets][:, None]
    similarity = {
        k: float(v.mean()) for k, v in similarities(masks["real"], masks["randomised"]).items()
    }
    result = ExplainerRandomizationResult(steps, similarity)
    if segmentation is not None:
        own = segmentation == targets[:, None, None] + 1
        scores = {
            name: float(
                mask_scores(m, torch.where(own, segmentation, torch.zeros_like(segmentation)))[
                    "continuous_iou"
                ].mean()
            )
            for name, m in masks.items()
        }
        result.iou_real, result.iou_randomised = scores["real"], scores["randomised"]
    return result
