"""One call from a slow method and a classifier to a one-pass version of that method."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import nn
from torch.utils.data import Dataset

from captum_explainer.amortized.teacher import Teacher, check_teacher, teacher_of
from captum_explainer.amortized.train import AmortizedTrainingConfig, train_amortized
from captum_explainer.attr import AmortizedAttribution
from captum_explainer.data.factory import make_datasets
from captum_explainer.data.types import Normalization
from captum_explainer.evaluation.registry import MethodSpec
from captum_explainer.machine import check_device
from captum_explainer.models.loading import load_amortized, load_classifier
from captum_explainer.models.pretrained import SYNTHETIC_CLASSIFIER
from captum_explainer.output_files import check_output_folder
from captum_explainer.scores import score_for_task
from captum_explainer.training.user_data import user_data


def fit_amortized(
    teacher: str | MethodSpec | Teacher,
    classifier: nn.Module,
    train_data: Dataset | str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    teacher_kwargs: Mapping[str, Any] | None = None,
    val_data: Dataset | str | os.PathLike | None = None,
    classes: Sequence[str] | None = None,
    task: str | None = None,
    normalization: Normalization | None = None,
    image_size: int = 224,
    val_fraction: float = 0.1,
    epochs: int = 10,
    batch_size: int = 16,
    device: str = "cpu",
    **settings: Any,
) -> AmortizedAttribution:
    """Train a network to predict ``teacher``'s maps of every class in one forward pass, and
    return it as an attribution method.

    The teacher runs on every training batch with its own small budget and a fresh random
    draw (RISE with a few hundred masks: every class from the same masked passes); the
    network's squared error averages the labels' noise out, so it can end up closer to the
    teacher's limit than any one label (Covert et al., NeurIPS 2024).

    Args:
        teacher: a method key of the package (``"rise"``, ``"integrated-gradients"``, ...),
            or any Captum attribution as a :class:`~captum_explainer.evaluation.MethodSpec`
            (e.g. ``MethodSpec("Occlusion", Occlusion(model), {"sliding_window_shapes":
            (3, 8, 8), "strides": (3, 4, 4)}, reduction="sum")``), or a :class:`Teacher`.
        classifier: the frozen model explained (left as it was).
        train_data: as :func:`~captum_explainer.fit_explainer` takes it (a folder, a listing,
            a dataset of ``(image, class index)`` or ``(image, multi-hot labels)`` items).
        out_dir: the run's folder (``best.pt``, ``last.pt``, ``log.csv``).
        teacher_kwargs: the teacher's ``attribute`` arguments over its defaults
            (``{"n_masks": 250}``).
        val_data, classes, task, normalization, image_size, val_fraction: as
            :func:`~captum_explainer.fit_explainer`; ``task`` also picks a package teacher's
            score (sigmoid for multi-label, softmax for single-label).
        epochs, batch_size, device: the training.
        settings: any other :class:`AmortizedTrainingConfig` field (``lr``, ``arch``,
            ``arch_kwargs``, ``patience``, ``seed``, ``resume``, ``max_steps_per_epoch``,
            ``progress``, ...).

    Returns:
        An :class:`~captum_explainer.attr.AmortizedAttribution` around the best checkpoint
        and ``classifier``.

    Example:
        >>> import tempfile
        >>> from captum_explainer import SyntheticScenes, fit_amortized
        >>> from captum_explainer.models import synthetic_classifier
        >>> scenes = SyntheticScenes(8, image_size=32, seed=1, split="val")
        >>> items = [scenes[i][:2] for i in range(8)]  # (image, multi-hot labels)
        >>> with tempfile.TemporaryDirectory() as run:
        ...     rise = fit_amortized(
        ...         "rise", synthetic_classifier(), items, run, teacher_kwargs={"n_masks": 32},
        ...         epochs=1, batch_size=4, progress=False,
        ...     )  # fmt: skip
        >>> rise.attribute(items[0][0][None], target=2).shape
        torch.Size([1, 1, 32, 32])
    """
    check_teacher(teacher)
    out_dir = Path(out_dir)
    check_output_folder(out_dir)
    data = user_data(
        classifier,
        train_data,
        val_data,
        classes,
        task,
        normalization,
        image_size,
        val_fraction,
        seed=int(settings.get("seed", 0)),
    )
    device = check_device(device)
    chosen = teacher_of(
        teacher, classifier, data.normalization, score_for_task(data.task), teacher_kwargs
    )
    config = AmortizedTrainingConfig(
        out_dir=out_dir, epochs=epochs, batch_size=batch_size, **settings
    )
    classifier = classifier.to(device)
    train_amortized(
        config, chosen, classifier, data.train, data.val, data.classes, data.normalization, device
    )
    network, _ = load_amortized(out_dir / "best.pt", map_location=device)
    return AmortizedAttribution(network, classifier, teacher=chosen.name)


def run_amortized_training(
    config: AmortizedTrainingConfig,
    teacher: str,
    teacher_kwargs: Mapping[str, Any] | None = None,
    classifier: str | Path | None = None,
    dataset: str = "synthetic",
    root: str | Path | None = None,
    image_size: int | None = None,
    train_size: int = 20000,
    val_size: int = 1000,
    device: str = "cpu",
) -> list[dict[str, float]]:
    """What ``captum-explainer train-amortized`` runs: amortize the method ``teacher`` (a
    catalogue key) for a classifier checkpoint (default: the shipped synthetic classifier)
    on a dataset given by name (:func:`~captum_explainer.data.factory.make_datasets`).

    Returns:
        The per-epoch log.

    Example:
        >>> import tempfile
        >>> from captum_explainer.amortized import AmortizedTrainingConfig, run_amortized_training
        >>> with tempfile.TemporaryDirectory() as run:  # the shipped classifier on synthetic scenes
        ...     config = AmortizedTrainingConfig(run, epochs=1, batch_size=4, progress=False)
        ...     log = run_amortized_training(
        ...         config, "rise", {"n_masks": 16}, image_size=32, train_size=8, val_size=4
        ...     )
        >>> len(log)
        1
    """
    check_output_folder(config.out_dir)
    classifier_path = classifier or SYNTHETIC_CLASSIFIER
    model, meta = load_classifier(classifier_path, map_location=device)
    config.extra_meta.setdefault("classifier", str(classifier_path))
    data = make_datasets(
        dataset, root, image_size, train_size, val_size, config.seed, classes=list(meta["classes"])
    )
    score = score_for_task(meta.get("task", "multilabel"))
    chosen = teacher_of(teacher, model, data.normalization, score, teacher_kwargs)
    return train_amortized(
        config,
        chosen,
        model,
        data.require_train(),
        data.val,
        data.classes,
        data.normalization,
        device,
    )
