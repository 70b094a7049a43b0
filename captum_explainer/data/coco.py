"""A multi-label view of MS COCO-2014 over torchvision's ``CocoDetection``."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from captum_explainer.data._transforms import (
    check_image_size,
    image_to_tensor,
    segmentation_to_tensor,
)
from captum_explainer.data.types import IMAGENET_NORMALIZATION, Item, Normalization


def _coco_detection(images: Path, annotations: Path):
    try:
        import pycocotools  # noqa: F401 - CocoDetection imports it lazily; fail early and clearly
        from torchvision.datasets import CocoDetection
    except ImportError as error:
        raise ImportError(
            "COCO2014 needs pycocotools: pip install 'captum-explainer[coco]'"
        ) from error
    # pycocotools prints its progress to stdout; keep a library call quiet.
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            detection = CocoDetection(str(images), str(annotations))
        # pycocotools reads some fields only when first asked: check them all now.
        for key in ("images", "annotations", "categories"):
            if key not in detection.coco.dataset:
                raise KeyError(key)
        return detection
    except KeyError as error:
        raise ValueError(
            f"COCO annotations {str(annotations)!r} lack the field {error.args[0]!r} (COCO's "
            f"instances files hold images, annotations and categories)"
        ) from error
    except ValueError as error:  # json.JSONDecodeError
        raise ValueError(
            f"COCO annotations {str(annotations)!r} are not valid JSON: {error}"
        ) from error


class COCO2014(Dataset):
    """MS COCO-2014 as multi-label classification, with class maps from its instance masks.

    Args:
        root: folder holding ``{split}2014/`` images and ``annotations/instances_{split}2014.json``.
        split: ``"train"`` or ``"val"``.
        image_size: images and segmentations are resized to ``image_size x image_size``.
        normalization: default ImageNet's.

    Classes are COCO's categories sorted by id (80 for the real data), so label ``k`` is
    the ``k``-th category, whatever gaps the ids have. An image without annotations has
    no labels (all zeros, never all ones); a class with several instances counts once.
    Each item is ``(image (3, S, S), labels (K,), segmentation (S, S))`` with 0 for
    background and ``k + 1`` for class ``k`` (later instances painted over earlier ones).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "val",
        image_size: int = 224,
        normalization: Normalization = IMAGENET_NORMALIZATION,
    ) -> None:
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        root = Path(root)
        images = root / f"{split}2014"
        annotations = root / "annotations" / f"instances_{split}2014.json"
        for path in (images, annotations):
            if not path.exists():
                raise FileNotFoundError(
                    f"COCO-2014 not found: {str(path)!r} does not exist (root={str(root)!r} must "
                    f"hold {split}2014/ and annotations/instances_{split}2014.json)"
                )
        self._coco = _coco_detection(images, annotations)
        self._annotations = annotations
        self.image_size = check_image_size(image_size)
        self.normalization = normalization
        category_ids = sorted(self._coco.coco.getCatIds())
        self._label_of = {cat: k for k, cat in enumerate(category_ids)}
        self.classes = tuple(self._coco.coco.loadCats(cat)[0]["name"] for cat in category_ids)

    def __len__(self) -> int:
        return len(self._coco)

    def labels_from(self, annotations: list[dict]) -> torch.Tensor:
        """Multi-hot ``(K,)`` of a list of COCO annotations (each class counted once)."""
        labels = torch.zeros(len(self.classes))
        unknown = [
            a.get("category_id") for a in annotations if a.get("category_id") not in self._label_of
        ]
        if unknown:
            raise ValueError(
                f"COCO annotations {str(self._annotations)!r}: an annotation names category_id "
                f"{unknown[0]!r}, which is not among the file's categories"
            )
        ids = [self._label_of[a["category_id"]] for a in annotations]
        labels[ids] = 1.0
        return labels

    def labels(self, index: int) -> torch.Tensor:
        """Multi-hot ``(K,)`` of image ``index`` from its annotations, without decoding the image."""
        image_id = self._coco.ids[index]
        return self.labels_from(
            self._coco.coco.loadAnns(self._coco.coco.getAnnIds(imgIds=image_id))
        )

    def has_segmentation(self, index: int) -> bool:
        """COCO's instance masks give every image a class map."""
        return True

    def _class_map(self, annotations: list[dict], height: int, width: int) -> np.ndarray:
        segmentation = np.zeros((height, width), dtype=np.int64)
        for annotation in annotations:
            mask = self._coco.coco.annToMask(annotation).astype(bool)
            segmentation[mask] = self._label_of[annotation["category_id"]] + 1
        return segmentation

    def __getitem__(self, index: int) -> Item:
        image, annotations = self._coco[index]
        tensor = image_to_tensor(image, self.image_size, self.normalization)
        class_map = self._class_map(annotations, image.height, image.width)
        return (
            tensor,
            self.labels_from(annotations),
            segmentation_to_tensor(class_map, self.image_size),
        )
