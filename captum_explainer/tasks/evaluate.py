"""``captum-explainer evaluate``: load the models and the dataset, evaluate the named methods
(:func:`~captum_explainer.evaluation.evaluate.evaluate`, one process or ``torchrun``) and write
the report."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from captum_explainer.data.loading import evaluable_indices
from captum_explainer.data.user_images import data_task, folder_classes, open_image_data
from captum_explainer.distributed import distributed_context
from captum_explainer.evaluation.aggregate import AVERAGING_NOTE
from captum_explainer.evaluation.evaluate import EvaluationResult, evaluate
from captum_explainer.evaluation.registry import (
    MethodRecord,
    build_methods,
    method_record,
    method_records,
    time_reference,
    with_shorthands,
    work_overrides,
)
from captum_explainer.models.user import OwnClassifier, check_channels
from captum_explainer.output_files import check_output_folder
from captum_explainer.report import FigureText, write_report
from captum_explainer.report.figures import comparison_grid
from captum_explainer.scores import score_for_task
from captum_explainer.tasks.task_setup import TaskSetup, load_networks, set_up


@dataclass
class EvaluationSettings:
    """What ``captum-explainer evaluate`` runs, as one value (:func:`run_evaluation`).

    Args:
        out: the report folder.
        dataset, root: ``"synthetic"``, ``"voc2007"`` or ``"coco2014"`` and its folder.
        classifier: a classifier checkpoint (default: the shipped synthetic classifier).
        networks: the methods' trained networks, key -> checkpoint (``{"explainer":
            "runs/mine/best.pt"}``); with the shipped classifier the shipped ones are used
            where none is given.
        methods: record keys (default: every registered method the models allow: those
            with a trained network only where it is given or shipped).
        n_images: at most this many images with a segmentation and a label (synthetic: 200
            are generated when not given).
        batch_size, image_size, seed, device, progress: as :func:`evaluate` and
            :func:`~captum_explainer.data.factory.make_datasets` take them.
        work: work counts by their keyword (``{"n_masks": 1000, "n_iter": 100}``), set for
            every method whose record counts its work so (default: the ``demo`` preset's).
        score: ``"softmax"`` or ``"sigmoid"`` (default: from the classifier's task).
        canvas: insertion's canvas (:data:`~captum_explainer.metrics.CANVASES`).
        self_contained: one ``report.html`` with the figures embedded.
        own, data, masks: a user's classifier (:class:`~captum_explainer.models.user.OwnClassifier`)
            and images with ground-truth masks (:func:`~captum_explainer.data.user_images.open_image_data`),
            instead of ``classifier`` and ``dataset``; ``networks`` then hold the networks
            trained for it.
        road: also score ROAD (remove and debias) for every method.
        controls: the faithfulness controls beside the games (the maps blurred to the
            blur reference's smoothness, the mask-only check; see
            :func:`~captum_explainer.evaluation.evaluate`).
        strict: with ``data``, stop at the first image that cannot be read; by default the
            unreadable ones are left out (they never count as images), each reported to
            ``unreadable(path, why)``.
    """

    out: str | Path
    dataset: str = "synthetic"
    root: str | Path | None = None
    classifier: str | Path | None = None
    networks: Mapping[str, str | Path] = field(default_factory=dict)
    methods: Sequence[str] | None = None
    n_images: int | None = None
    batch_size: int = 16
    image_size: int | None = None
    work: Mapping[str, int] = field(default_factory=dict)
    score: str | None = None
    canvas: str = "blur"
    self_contained: bool = False
    seed: int = 0
    device: str = "cpu"
    progress: bool = True
    own: OwnClassifier | None = None
    data: str | Path | None = None
    masks: str | Path | None = None
    road: bool = False
    controls: bool = True
    strict: bool = False
    unreadable: Callable[[Path, str], None] | None = None


#: 0.3's work-count keywords of :func:`run_evaluation` and the keywords they became.
_WORK_KEYWORDS = {"rise_masks": "n_masks", "fgvis_iterations": "n_iter"}


def evaluation_settings(out: str | Path, **options: Any) -> EvaluationSettings:
    """:class:`EvaluationSettings` from keywords, 0.3's included (``explainer=PATH`` and
    ``amortized=PATH`` go into ``networks``; ``rise_masks`` and ``fgvis_iterations`` into
    ``work`` as ``n_masks`` and ``n_iter``)."""
    networks = with_shorthands(
        options.pop("networks", None),
        options.pop("explainer", None),
        options.pop("amortized", None),
    )
    work = dict(options.pop("work", None) or {})
    for keyword, key in _WORK_KEYWORDS.items():
        if options.get(keyword) is not None:
            work.setdefault(key, options[keyword])
        options.pop(keyword, None)
    return EvaluationSettings(out, networks=networks, work=work, **options)


def run_evaluation(
    out: str | Path | EvaluationSettings, **options: Any
) -> tuple[list[dict[str, Any]], Path] | None:
    """What ``captum-explainer evaluate`` runs: load the models and the dataset, evaluate the
    named methods (:func:`evaluate`, on one process or under ``torchrun``) and write the
    report into ``out``.

    Args:
        out: an :class:`EvaluationSettings`, or the report folder with the settings as
            keywords (:func:`evaluation_settings`; 0.3's ``explainer``, ``amortized``,
            ``rise_masks`` and ``fgvis_iterations`` included).

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
    settings = out if isinstance(out, EvaluationSettings) else evaluation_settings(out, **options)
    check_output_folder(settings.out)
    loaded = _load(settings)
    chosen = build_methods(
        loaded.setup.models(),
        settings.methods,
        "demo",
        settings.seed,
        work_overrides(**settings.work),
    )
    with distributed_context(settings.device) as context:
        result = evaluate(
            chosen,
            loaded.setup.classifier,
            loaded.images,
            loaded.indices,
            settings.batch_size,
            context,
            settings.progress,
            score=loaded.setup.score,
            canvas=settings.canvas,
            road=settings.road,
            controls=settings.controls,
        )
    if result is None:  # not the main process
        return None
    rows = result.rows()
    report = _write_report(settings, loaded, [spec.name for spec in chosen], result, rows)
    if result.interrupted:
        raise EvaluationInterrupted(rows, report, result.planned_images)
    return rows, report


@dataclass
class _Loaded:
    """The models and the images an evaluation runs on."""

    setup: TaskSetup
    images: Dataset
    indices: list[int]
    source: str  # what the images are, for the report's notes
    classifier: str  # what the classifier is, for the notes


def _load(settings: EvaluationSettings) -> _Loaded:
    """The classifier, the trained networks the methods use, and the images with ground
    truth: a user's classifier and folder (``data``), or a checkpoint and a dataset."""
    records = (
        [method_record(key) for key in settings.methods]
        if settings.methods
        else list(method_records())
    )
    if settings.data is not None:
        setup, images = _own_setup(settings, records)
        for path, why in images.skipped:
            if settings.unreadable is not None:
                settings.unreadable(path, why)
        source, name = str(settings.data), str(settings.own.model)
    else:
        keys = [r.key for r in records]
        setup = set_up(
            settings.classifier,
            device=settings.device,
            score=settings.score,
            networks=settings.networks,
            methods=keys,
        )
        pair = setup.datasets(
            settings.dataset,
            settings.root,
            settings.image_size,
            val_size=settings.n_images or 200,
            seed=settings.seed,
        )
        images, source = pair.val, settings.dataset
        name = str(settings.classifier or "shipped")
    indices = evaluable_indices(images, settings.n_images)
    check_channels(setup.classifier, images[indices[0]][0], f"the evaluation data ({source})")
    return _Loaded(setup, images, indices, source, name)


def _write_report(
    settings: EvaluationSettings,
    loaded: _Loaded,
    methods: list[str],
    result: EvaluationResult,
    rows: list[dict[str, Any]],
) -> Path:
    normalization, classes = loaded.setup.normalization, loaded.setup.classes
    figures = {}
    if result.first_batch is not None:
        figures["comparison_grid"] = comparison_grid(
            result.first_batch, normalization, class_names=classes
        )
    notes = [
        f"{loaded.source}: {len(loaded.indices)} images with a segmentation and a label; "
        f"classifier {loaded.classifier}; methods {', '.join(methods)}; faithfulness read with "
        f"the {loaded.setup.score} score; insertion starts from the {settings.canvas!r} canvas.",
        AVERAGING_NOTE,
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
    return write_report(
        settings.out,
        rows,
        figures,
        title=f"captum-explainer evaluation ({loaded.source})",
        notes=notes,
        captions=captions,
        self_contained=settings.self_contained,
        time_reference=time_reference(),
    )


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
    settings: EvaluationSettings, records: Sequence[MethodRecord]
) -> tuple[TaskSetup, Dataset]:
    """A user's classifier, the networks trained for it and images with masks
    (``evaluate --data``)."""
    if settings.own is None:
        raise ValueError("--data needs --model (or --classifier): the classifier to explain")
    if settings.masks is None:
        raise ValueError("--data needs --masks: the ground truth the maps are scored against")
    data = settings.data
    model, info = settings.own.load(folder_classes(data), data_task(data))
    model = model.to(settings.device).eval()
    networks = load_networks(records, settings.networks, False, settings.device)
    setup = TaskSetup(
        model,
        list(info.classes),
        info.normalization,
        info.image_size,
        info.task,
        settings.score or score_for_task(info.task),
        networks,
    )
    images = open_image_data(
        data,
        info.image_size,
        info.normalization,
        info.channels,
        list(info.classes),
        settings.masks,
        strict=settings.strict,
    )
    return setup, images
