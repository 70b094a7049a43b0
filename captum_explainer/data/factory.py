"""Build the train/validation datasets a command names (``--dataset``, ``--root``)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from torch.utils.data import Dataset

from captum_explainer.data.coco import COCO2014
from captum_explainer.data.real_objects import RealObjects
from captum_explainer.data.synthetic import SYNTHETIC_NORMALIZATION, SyntheticScenes
from captum_explainer.data.types import IMAGENET_NORMALIZATION, Normalization
from captum_explainer.data.voc import VOC2007, VOC_CLASSES

DATASETS = ("synthetic", "real_objects", "voc2007", "coco2014")

#: The worlds drawn on the fly: their class, default side and normalisation.
GENERATED = {
    "synthetic": (SyntheticScenes, 64, SYNTHETIC_NORMALIZATION),
    "real_objects": (RealObjects, 128, RealObjects.NORMALIZATION),
}


@dataclass
class DatasetPair:
    """A training and a validation split with their class names and normalisation."""

    train: Dataset | None  # None where only the evaluation split is on disk
    val: Dataset
    classes: list[str]
    normalization: Normalization

    def require_train(self) -> Dataset:
        """The training split, or a clear error where it is not on disk."""
        if self.train is None:
            raise FileNotFoundError(
                "the training split is not on disk (VOC: ImageSets/Main/trainval.txt; "
                "COCO: train2014/ and annotations/instances_train2014.json)"
            )
        return self.train


def make_datasets(
    name: str,
    root: str | os.PathLike | None = None,
    image_size: int | None = None,
    train_size: int = 20000,
    val_size: int = 2000,
    seed: int = 0,
    classes: list[str] | None = None,
    normalization: Normalization | None = None,
) -> DatasetPair:
    """The train/validation pair of dataset ``name`` (one of :data:`DATASETS`).

    Args:
        name: ``"synthetic"`` or ``"real_objects"`` (generated, ``root`` unused),
            ``"voc2007"`` or ``"coco2014"``.
        root: folder of a real dataset (see :class:`VOC2007` and :class:`COCO2014`).
        image_size: image side; default 64 for synthetic data, 128 for real objects, 224
            for real data.
        train_size, val_size: lengths of the generated splits.
        seed: seed of the generated splits.
        classes: the class names a classifier was trained on (its checkpoint says): VOC
            labels follow them; a COCO annotation file must have exactly these categories.
        normalization: the classifier's input normalisation, if not the dataset's usual one.
    """
    if name in GENERATED:
        world, default_size, world_normalization = GENERATED[name]
        size = image_size or default_size
        return DatasetPair(
            world(train_size, image_size=size, seed=seed, split="train"),
            world(val_size, image_size=size, seed=seed, split="val"),
            list(world.ALL_CLASSES),
            world_normalization,
        )
    norm = normalization or IMAGENET_NORMALIZATION
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {list(DATASETS)}, got {name!r}")
    if root is None:
        raise ValueError(f"dataset {name!r} needs --root, the folder that holds it")
    size = image_size or 224
    if name == "voc2007":
        names = tuple(classes) if classes else VOC_CLASSES
        train = _optional(lambda: VOC2007(root, "trainval", size, norm, names))
        val = VOC2007(root, image_set="test", image_size=size, normalization=norm, classes=names)
    else:
        train = _optional(
            lambda: COCO2014(root, split="train", image_size=size, normalization=norm)
        )
        val = COCO2014(root, split="val", image_size=size, normalization=norm)
        if classes and list(val.classes) != list(classes):
            raise ValueError(
                f"the COCO annotations' categories {list(val.classes)[:5]}... differ from the "
                f"classifier's classes {list(classes)[:5]}..."
            )
    return DatasetPair(train, val, list(val.classes), norm)


def _optional(build):
    """The training split, or ``None`` where only the evaluation split is on disk."""
    try:
        return build()
    except FileNotFoundError:
        return None
