"""One call from a user's classifier and images to a ready Explainer.

:func:`fit_explainer` takes any ``nn.Module`` classifier and either a folder/listing of
images (:mod:`captum_explainer.data.user_images`) or a dataset object (torchvision style
``(image, class index)`` items, or ``(image, multi-hot labels)``), trains an Explainer with
the package's loop (checkpoints, resume, ``torchrun``) and returns it as an
:class:`~captum_explainer.attr.ExplainerAttribution`. ``captum-explainer train-explainer
--model ... --data ...`` is the same from the shell.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn
from torch.utils.data import Dataset

from captum_explainer.attr import ExplainerAttribution
from captum_explainer.data.types import Normalization
from captum_explainer.distributed import distributed_context
from captum_explainer.explainer.loss import CLASS_SPECIFIC_WEIGHTS, LossWeights
from captum_explainer.explainer.train import (
    ExplainerTrainingConfig,
    train_explainer,
)
from captum_explainer.models.loading import load_explainer
from captum_explainer.output_files import check_output_folder
from captum_explainer.training.user_data import user_data


def fit_explainer(
    classifier: nn.Module,
    train_data: Dataset | str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    val_data: Dataset | str | os.PathLike | None = None,
    classes: Sequence[str] | None = None,
    task: str | None = None,
    normalization: Normalization | None = None,
    image_size: int = 224,
    val_fraction: float = 0.1,
    arch: str = "small_explainer",
    lr: float = 1e-3,
    weights: LossWeights | None = None,
    epochs: int = 10,
    batch_size: int = 16,
    device: str = "cpu",
    **settings: Any,
) -> ExplainerAttribution:
    """Train an Explainer for ``classifier`` and return it, ready to ``attribute``.

    Args:
        classifier: the frozen model, ``(N, C, H, W) -> (N, K)`` logits (left as it was:
            training flags and ``requires_grad`` are restored).
        train_data: a folder of class folders, a ``.csv``/``.json`` listing
            (:func:`~captum_explainer.data.user_images.open_image_data`), or a dataset of
            ``(image tensor, class index)`` or ``(image tensor, multi-hot labels)`` items.
        out_dir: the run's folder (``best.pt``, ``last.pt``, ``log.csv``).
        val_data: validation data in the same forms; default ``val_fraction`` of
            ``train_data``, drawn with ``settings["seed"]`` (default 0).
        classes: class names in the logits' order (default: the data's, else ``"0"``, ``"1"``...).
        task: ``"multilabel"`` (sigmoid, the paper's BCE) or ``"single-label"`` (softmax,
            cross-entropy); default: single-label for a class folder or class indices,
            multi-label otherwise.
        normalization: the classifier's input normalisation (read images are normalised
            with it; stored in the checkpoint). Default: ImageNet's for 3 channels.
        image_size: the side read images are resized to (files only).
        arch, lr, weights, epochs, batch_size: the Explainer and its training. ``weights``
            default to :data:`~captum_explainer.explainer.loss.CLASS_SPECIFIC_WEIGHTS` (the
            paper's loss plus the terms that make the masks class-specific); the paper's loss
            alone is ``weights=LossWeights()``.
        device: ``"cpu"`` or ``"cuda"`` (under ``torchrun``: each process its own GPU).
        settings: any other :class:`ExplainerTrainingConfig` field (``patience``, ``seed``,
            ``resume``, ``max_steps_per_epoch``, ``arch_kwargs``, ``progress``, ``encoder_weights``:
            a ResNet weights file to start a ``resnet*_fpn`` encoder from, e.g. for a ViT, ...).

    Returns:
        The trained Explainer (its best checkpoint) as an :class:`ExplainerAttribution`
        around ``classifier`` for ``task`` (``target=None`` explains what it predicts), in
        ``eval()`` mode.

    Example:
        >>> import tempfile
        >>> from captum_explainer import SyntheticScenes, fit_explainer
        >>> from captum_explainer.models import synthetic_classifier
        >>> scenes = SyntheticScenes(8, image_size=32, seed=1, split="val")
        >>> items = [scenes[i][:2] for i in range(8)]  # (image, multi-hot labels)
        >>> with tempfile.TemporaryDirectory() as run:
        ...     explainer = fit_explainer(
        ...         synthetic_classifier(), items, run, epochs=1, batch_size=4, progress=False
        ...     )
        >>> explainer.attribute(items[0][0][None], target=None).shape  # predicted classes
        torch.Size([1, 1, 32, 32])
    """
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
    config = ExplainerTrainingConfig(
        out_dir=out_dir,
        arch=arch,
        lr=lr,
        weights=weights or CLASS_SPECIFIC_WEIGHTS,
        epochs=epochs,
        batch_size=batch_size,
        task=data.task,
        **settings,
    )
    with distributed_context(device) as context:
        train_explainer(
            config, classifier, data.train, data.val, data.classes, data.normalization, context
        )
    explainer, _ = load_explainer(out_dir / "best.pt", map_location=context.device)
    return ExplainerAttribution(explainer, classifier, task=data.task)
