"""One call from a user's classifier and images to a ready Explainer.

:func:`fit_explainer` takes any ``nn.Module`` classifier and either a folder/listing of
images (:mod:`captum_explainer.data.files`) or a dataset object (torchvision style
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

import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from captum_explainer.attr import ExplainerAttribution
from captum_explainer.data.files import open_image_data
from captum_explainer.data.loading import check_not_empty
from captum_explainer.data.types import Item, Normalization
from captum_explainer.distributed import distributed_context
from captum_explainer.explainer.loss import CLASS_SPECIFIC_WEIGHTS, LossWeights
from captum_explainer.explainer.train import (
    ExplainerTrainingConfig,
    train_explainer,
)
from captum_explainer.files import check_output_folder
from captum_explainer.models.adapters import output_logits
from captum_explainer.models.registry import load_explainer
from captum_explainer.models.user import check_channels, default_normalization


class LabelledItems(Dataset):
    """A user's dataset as the package's items ``(image, multi-hot labels (K,), segmentation)``.

    Accepts items ``(image, class index)`` (torchvision's ``ImageFolder``, MNIST, ...: a
    single-label task), ``(image, multi-hot labels)`` and the package's own triples.
    """

    def __init__(self, dataset: Dataset, num_classes: int) -> None:
        self.dataset, self.num_classes = dataset, num_classes

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Item:
        item = self.dataset[index]
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise ValueError(
                f"item {index} of the training data must be (image, label) or (image, labels, "
                f"segmentation), got {type(item).__name__}"
            )
        image, label = item[0], item[1]
        segmentation = item[2] if len(item) == 3 else None
        if not isinstance(image, torch.Tensor):
            raise ValueError(
                f"item {index}: the image is a {type(image).__name__}, not a tensor; give the "
                f"dataset a transform that returns normalised (C, H, W) tensors"
            )
        if isinstance(label, int) or (isinstance(label, torch.Tensor) and label.dim() == 0):
            index_ = int(label)
            if not 0 <= index_ < self.num_classes:
                raise ValueError(
                    f"item {index}: label {index_} is not a class index in 0 ... {self.num_classes - 1}"
                )
            labels = torch.zeros(self.num_classes)
            labels[index_] = 1.0
        else:
            labels = torch.as_tensor(label, dtype=torch.float32)
            if labels.shape != (self.num_classes,):
                raise ValueError(
                    f"item {index}: labels must be a class index or {self.num_classes} multi-hot "
                    f"values, got shape {tuple(labels.shape)}"
                )
        return image, labels, segmentation


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
            (:func:`~captum_explainer.data.files.open_image_data`), or a dataset of
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
            ``resume``, ``max_steps_per_epoch``, ``arch_kwargs``, ``progress``, ...).

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
    channels = len(normalization.mean) if normalization is not None else 3
    normalization = normalization or default_normalization(channels)
    names = list(classes) if classes is not None else None
    train = _as_dataset(train_data, image_size, normalization, names)
    check_not_empty(train, "train_data")
    check_channels(classifier, train[0][0], "the training data")
    names = names or list(getattr(train, "classes", None) or _class_names(classifier, train))
    task = task or getattr(train, "task", None) or _task_of(train_data)
    seed = int(settings.get("seed", 0))
    if val_data is None:
        train, val = _split(train, val_fraction, seed)
    else:
        val = _as_dataset(val_data, image_size, normalization, names)
    train, val = LabelledItems(train, len(names)), LabelledItems(val, len(names))
    config = ExplainerTrainingConfig(
        out_dir=out_dir,
        arch=arch,
        lr=lr,
        weights=weights or CLASS_SPECIFIC_WEIGHTS,
        epochs=epochs,
        batch_size=batch_size,
        task=task,
        **settings,
    )
    with distributed_context(device) as context:
        train_explainer(config, classifier, train, val, names, normalization, context)
    explainer, _ = load_explainer(out_dir / "best.pt", map_location=context.device)
    return ExplainerAttribution(explainer, classifier, task=task)


def _as_dataset(
    data: Dataset | str | os.PathLike,
    image_size: int,
    normalization: Normalization,
    classes: list[str] | None,
) -> Dataset:
    if isinstance(data, (str, os.PathLike)):
        return open_image_data(data, image_size, normalization, len(normalization.mean), classes)
    if not hasattr(data, "__getitem__") or not hasattr(data, "__len__"):
        raise ValueError(
            f"train_data must be a folder, a .csv/.json listing or a dataset with __getitem__ "
            f"and __len__, got {type(data).__name__}"
        )
    return data


def _class_names(classifier: nn.Module, dataset: Dataset) -> list[str]:
    """``"0"`` ... ``"K-1"`` with ``K`` the classifier's output size on one image."""
    was_training = classifier.training
    try:
        with torch.no_grad():
            logits = output_logits(classifier.eval()(dataset[0][0][None]))
    finally:
        classifier.train(was_training)
    return [str(k) for k in range(logits.shape[1])]


def _task_of(data: Dataset | str | os.PathLike) -> str:
    """Single-label where items carry a class index, multi-label otherwise."""
    if isinstance(data, (str, os.PathLike)):
        return "multilabel"
    label = data[0][1]
    is_index = isinstance(label, int) or (isinstance(label, torch.Tensor) and label.dim() == 0)
    return "single-label" if is_index else "multilabel"


def _split(dataset: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    if not 0 < fraction < 1:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {fraction!r}")
    n = len(dataset)
    n_val = max(1, round(fraction * n))
    if n - n_val < 1:
        raise ValueError(
            f"the training data holds {n} image(s): too few to keep a validation share"
        )
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return Subset(dataset, order[n_val:]), Subset(dataset, order[:n_val])
