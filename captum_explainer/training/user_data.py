"""A user's classifier and images made ready for training a network that explains it: the
data forms :func:`~captum_explainer.fit_explainer` and
:func:`~captum_explainer.fit_amortized` accept, read, labelled and split the same way."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from captum_explainer.data.loading import check_not_empty
from captum_explainer.data.types import Item, Normalization
from captum_explainer.data.user_images import open_image_data
from captum_explainer.models.adapters import output_logits
from captum_explainer.models.user import check_channels, default_normalization


@dataclass
class UserData:
    """Training and validation items ``(image, multi-hot labels, segmentation or None)``,
    the class names, the task and the images' normalisation."""

    train: Dataset
    val: Dataset
    classes: list[str]
    task: str
    normalization: Normalization


def user_data(
    classifier: nn.Module,
    train_data: Dataset | str | os.PathLike,
    val_data: Dataset | str | os.PathLike | None,
    classes: Sequence[str] | None,
    task: str | None,
    normalization: Normalization | None,
    image_size: int,
    val_fraction: float,
    seed: int = 0,
) -> UserData:
    """Read and check a user's data as the fitting functions take it (see
    :func:`~captum_explainer.fit_explainer` for every argument): a folder, a listing or a
    dataset; the classifier's channels checked on the first image; classes, task and
    validation split filled in where not given."""
    channels = len(normalization.mean) if normalization is not None else 3
    normalization = normalization or default_normalization(channels)
    names = list(classes) if classes is not None else None
    train = _as_dataset(train_data, image_size, normalization, names)
    check_not_empty(train, "train_data")
    check_channels(classifier, train[0][0], "the training data")
    names = names or list(getattr(train, "classes", None) or _class_names(classifier, train))
    task = task or getattr(train, "task", None) or _task_of(train_data)
    if val_data is None:
        train, val = _split(train, val_fraction, seed)
    else:
        val = _as_dataset(val_data, image_size, normalization, names)
    train, val = LabelledItems(train, len(names)), LabelledItems(val, len(names))
    return UserData(train, val, names, task, normalization)


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
