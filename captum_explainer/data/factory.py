"""Build the train/validation datasets a command names (``--dataset``, ``--root``)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from torch.utils.data import Dataset

from captum_explainer.data._types import IMAGENET_NORMALIZATION, Normalization
from captum_explainer.data.synthetic import SYNTHETIC_NORMALIZATION, SyntheticScenes

DATASETS = ("synthetic", "voc2007", "coco2014")


@dataclass
class DatasetPair:
    """A training and a validation split with their class names and normalisation."""

    train: Dataset
    val: Dataset
    classes: list[str]
    normalization: Normalization


def make_datasets(
    name: str,
    root: str | os.PathLike | None = None,
    image_size: int | None = None,
    train_size: int = 20000,
    val_size: int = 2000,
    seed: int = 0,
) -> DatasetPair:
    """The train/validation pair of dataset ``name`` (one of :data:`DATASETS`).

    Args:
        name: ``"synthetic"`` (generated, ``root`` unused), ``"voc2007"`` or ``"coco2014"``.
        root: folder of a real dataset (see :class:`VOC2007` and :class:`COCO2014`).
        image_size: image side; default 64 for synthetic data, 224 for real data.
        train_size, val_size: lengths of the synthetic splits.
        seed: seed of the synthetic splits.
    """
    if name == "synthetic":
        size = image_size or 64
        return DatasetPair(
            SyntheticScenes(train_size, image_size=size, seed=seed, split="train"),
            SyntheticScenes(val_size, image_size=size, seed=seed, split="val"),
            list(SyntheticScenes.ALL_CLASSES),
            SYNTHETIC_NORMALIZATION,
        )
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {list(DATASETS)}, got {name!r}")
    if root is None:
        raise ValueError(f"dataset {name!r} needs --root, the folder that holds it")
    size = image_size or 224
    if name == "voc2007":
        from captum_explainer.data.voc import VOC2007

        train = VOC2007(root, image_set="trainval", image_size=size)
        val = VOC2007(root, image_set="test", image_size=size)
    else:
        from captum_explainer.data.coco import COCO2014

        train = COCO2014(root, split="train", image_size=size)
        val = COCO2014(root, split="val", image_size=size)
    return DatasetPair(train, val, list(train.classes), IMAGENET_NORMALIZATION)
