"""``captum-explainer evaluate``: load the models and the dataset, evaluate the named methods
(:func:`~captum_explainer.evaluation.evaluate.evaluate`, one process or ``torchrun``) and write
the report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from torch import nn
from torch.utils.data import Dataset

from captum_explainer.data.loading import evaluable_indices
from captum_explainer.data.user_images import data_task, folder_classes, open_image_data
from captum_explainer.distributed import distributed_context
from captum_explainer.evaluation.catalogue import (
    Models,
    build_methods,
    method_record,
    method_records,
    work_overrides,
)
from captum_explainer.evaluation.evaluate import evaluate
from captum_explainer.files import check_output_folder
from captum_explainer.models.registry import load_amortized, load_explainer
from captum_explainer.models.user import ClassifierInfo, OwnClassifier, check_channels
from captum_explainer.report import FigureText, write_report
from captum_explainer.report.figures import comparison_grid
from captum_explainer.scores import score_for_task
from captum_explainer.tasks.setup import set_up


def run_evaluation(
    out: str | Path,
    dataset: str = "synthetic",
    root: str | Path | None = None,
    classifier: str | Path | None = None,
    explainer: str | Path | None = None,
    methods: Sequence[str] | None = None,
    n_images: int | None = None,
    batch_size: int = 16,
    image_size: int | None = None,
    rise_masks: int | None = None,
    fgvis_iterations: int | None = None,
    score: str | None = None,
    canvas: str = "blur",
    self_contained: bool = False,
    seed: int = 0,
    device: str = "cpu",
    progress: bool = True,
    own: OwnClassifier | None = None,
    data: str | Path | None = None,
    masks: str | Path | None = None,
    amortized: str | Path | None = None,
    road: bool = False,
    controls: bool = True,
    strict: bool = False,
    unreadable: Callable[[Path, str], None] | None = None,
) -> tuple[list[dict[str, Any]], Path] | None:
    """What ``captum-explainer evaluate`` runs: load the models and the dataset, evaluate the
    named methods (:func:`evaluate`, on one process or under ``torchrun``) and write the
    report into ``out``.

    Args:
        out: the report folder.
        dataset, root: ``"synthetic"``, ``"voc2007"`` or ``"coco2014"`` and its folder.
        classifier, explainer: checkpoints (default: the shipped synthetic models).
        methods: record keys (default: every registered method the models allow: the
            Explainer and amortized RISE where their networks are given or shipped).
        n_images: at most this many images with a segmentation and a label (synthetic: 200
            are generated when not given).
        batch_size, image_size, seed, device, progress: as :func:`evaluate` and
            :func:`~captum_explainer.data.factory.make_datasets` take them.
        rise_masks, fgvis_iterations: the mask count and iterations of every method that
            has them (default: the ``demo`` preset's, 4000 and 300).
        score: ``"softmax"`` or ``"sigmoid"`` (default: from the classifier's task).
        canvas: insertion's canvas (:data:`~captum_explainer.metrics.CANVASES`).
        own, data, masks: a user's classifier (:class:`~captum_explainer.models.user.OwnClassifier`)
            and images with ground-truth masks (:func:`~captum_explainer.data.user_images.open_image_data`),
            instead of ``classifier`` and ``dataset``; ``explainer`` is then the Explainer
            trained for it.
        amortized: the amortized RISE checkpoint for the classifier (default with the shipped
            classifier: the shipped one).
        road: also score ROAD (remove and debias) for every method.
        controls: the faithfulness controls beside the games (the maps blurred to
            Grad-CAM's smoothness, the mask-only check; see
            :func:`~captum_explainer.evaluation.evaluate`).
        strict: with ``data``, stop at the first image that cannot be read; by default the
            unreadable ones are left out (they never count as images), each reported to
            ``unreadable(path, why)``.

    Returns:
        ``(rows, report path)`` on the main process, ``None`` on the others.

    Raises:
        EvaluationInterrupted: Ctrl-C on a single process after at least one batch: the
            finished batches are written as a partial report first (it says so).

    Example:
        >>> import tempfile
        >>> from captum_explainer.tasks.evaluate import run_evaluation
        >>> with tempfile.TemporaryDirectory() as out:  # the shipped models on fresh scenes
        ...     rows, report = run_evaluation(
        ...         out, methods=["gradcam", "explainer"], n_images=4, progress=False
        ...     )
        >>> [(row["method"], row["images"]) for row in rows]
        [('Grad-CAM', 4), ('Explainer', 4)]
    """
    check_output_folder(out)
    keys = list(methods) if methods else None
    records = [method_record(key) for key in keys] if keys else method_records()
    need_explainer = any(r.needs_explainer for r in records)
    need_amortized = any(r.needs_amortized for r in records)
    network = None
    if data is not None:
        # With every method asked for, the Explainer joins only where one is given.
        wanted = need_explainer and (keys is not None or explainer is not None)
        model, learned, info, images = _own_setup(own, data, masks, explainer, wanted, strict)
        for path, why in images.skipped:
            if unreadable is not None:
                unreadable(path, why)
        dataset, classes, normalization = str(data), list(info.classes), info.normalization
        task = info.task
        network = load_amortized(amortized)[0] if amortized is not None else None
    else:
        setup = set_up(
            classifier, explainer, need_explainer, device, None, amortized, need_amortized
        )
        model, learned, task, network = (
            setup.classifier,
            setup.explainer,
            setup.task,
            setup.amortized,
        )
        pair = setup.datasets(dataset, root, image_size, val_size=n_images or 200, seed=seed)
        images, classes, normalization = pair.val, pair.classes, pair.normalization
    model = model.to(device)
    learned = learned.to(device) if learned is not None else None
    indices = evaluable_indices(images, n_images)
    check_channels(model, images[indices[0]][0], f"the evaluation data ({dataset})")
    score = score or score_for_task(task)
    overrides = work_overrides(n_masks=rise_masks, n_iter=fgvis_iterations)
    network = network.to(device) if network is not None else None
    chosen = build_methods(
        Models(model, learned, normalization, score, amortized=network),
        keys,
        "demo",
        seed,
        overrides,
    )
    methods = [spec.name for spec in chosen]
    with distributed_context(device) as context:
        result = evaluate(
            chosen,
            model,
            images,
            indices,
            batch_size,
            context,
            progress,
            score=score,
            canvas=canvas,
            road=road,
            controls=controls,
        )
    if result is None:  # not the main process
        return None
    figures = {}
    if result.first_batch is not None:
        figures["comparison_grid"] = comparison_grid(
            result.first_batch, normalization, class_names=classes
        )
    rows = result.rows()
    notes = [
        f"{dataset}: {len(indices)} images with a segmentation and a label; classifier "
        f"{own.model if own else classifier or 'shipped'}; methods {', '.join(methods)}; faithfulness read with the "
        f"{score} score; insertion starts from the {canvas!r} canvas.",
        *(f"Warning: {w}." for w in result.warnings),
    ]
    if result.interrupted:
        notes.insert(
            0,
            f"Interrupted (Ctrl-C) after {rows[0]['images']} of {result.planned_images} "
            f"images: every number covers only those images.",
        )
    captions = {
        "comparison_grid": FigureText(
            "Every method's map on the first batch",
            "One row per image, the ground truth, then each method's map (per image the "
            "maximum over its labelled classes' maps, scaled as the table scores them).",
        )
    }
    report = write_report(
        out,
        rows,
        figures,
        title=f"captum-explainer evaluation ({dataset})",
        notes=notes,
        captions=captions,
        self_contained=self_contained,
    )
    if result.interrupted:
        raise EvaluationInterrupted(rows, report, result.planned_images)
    return rows, report


class EvaluationInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped :func:`run_evaluation`; the batches finished before were written as a
    partial report.

    Attributes:
        rows, report: the partial rows and the report that holds them.
        planned_images: the images the run was asked for.

    Example:
        >>> from pathlib import Path
        >>> from captum_explainer.tasks.evaluate import EvaluationInterrupted
        >>> stop = EvaluationInterrupted([{"images": 16}], Path("report/report.html"), 64)
        >>> str(stop)  # run_evaluation raises it on Ctrl-C, after writing the partial report
        'interrupted after 16 of 64 images; the partial report is report/report.html'
        >>> isinstance(stop, KeyboardInterrupt)
        True
    """

    def __init__(self, rows: list[dict[str, Any]], report: Path, planned_images: int) -> None:
        super().__init__(
            f"interrupted after {rows[0]['images']} of {planned_images} images; the partial "
            f"report is {report}"
        )
        self.rows, self.report, self.planned_images = rows, report, planned_images


def _own_setup(
    own: OwnClassifier | None,
    data: str | Path,
    masks: str | Path | None,
    explainer: str | Path | None,
    need_explainer: bool,
    strict: bool = False,
) -> tuple[nn.Module, nn.Module | None, ClassifierInfo, Dataset]:
    """A user's classifier, its Explainer and images with masks (``evaluate --data``)."""
    if own is None:
        raise ValueError("--data needs --model (or --classifier): the classifier to explain")
    if masks is None:
        raise ValueError("--data needs --masks: the ground truth the maps are scored against")
    if need_explainer and explainer is None:
        raise ValueError(
            "method 'explainer' with --data needs --explainer, the Explainer trained for --model "
            "(captum-explainer train-explainer --model ... --data ...)"
        )
    model, info = own.load(folder_classes(data), data_task(data))
    learned = load_explainer(explainer)[0] if need_explainer else None
    images = open_image_data(
        data,
        info.image_size,
        info.normalization,
        info.channels,
        list(info.classes),
        masks,
        strict=strict,
    )
    return model, learned, info, images
