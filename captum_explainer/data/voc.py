"""A multi-label view of PASCAL VOC-2007 over torchvision's ``VOCDetection``."""

from __future__ import annotations

import os
from pathlib import Path
from xml.etree.ElementTree import ParseError
from xml.etree.ElementTree import parse as parse_xml

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.datasets import VOCDetection

from captum_explainer.data._transforms import (
    check_image_size,
    image_to_tensor,
    segmentation_to_tensor,
)
from captum_explainer.data.types import IMAGENET_NORMALIZATION, Item, Normalization

VOC_CLASSES: tuple[str, ...] = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)  # fmt: skip


class VOC2007(Dataset):
    """PASCAL VOC-2007 as multi-label classification with segmentations where VOC has them.

    Args:
        root: the folder that holds ``VOCdevkit/VOC2007`` (as torchvision expects).
        image_set: ``"train"``, ``"val"``, ``"trainval"`` or ``"test"``.
        image_size: images (and segmentations) are resized to ``image_size x image_size``.
        normalization: default ImageNet's, as the paper's classifiers expect.
        classes: class names in label order (default VOC's 20); an object whose name is
            not among them raises ``KeyError``.
        include_difficult: if True (default), objects flagged ``difficult`` count as labels;
            :meth:`difficult` tells which labels come only from such objects.
        download: passed to torchvision; nothing is downloaded unless it is True.

    Each item is ``(image (3, S, S), labels (K,), segmentation (S, S) or None)``; the
    segmentation exists for the images listed in VOC's segmentation subset.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        image_set: str = "test",
        image_size: int = 224,
        normalization: Normalization = IMAGENET_NORMALIZATION,
        classes: tuple[str, ...] | list[str] = VOC_CLASSES,
        include_difficult: bool = True,
        download: bool = False,
    ) -> None:
        voc_root = Path(root) / "VOCdevkit" / "VOC2007"
        if not download and not voc_root.is_dir():
            raise FileNotFoundError(
                f"VOC-2007 not found: {str(voc_root)!r} does not exist (root={str(root)!r} must "
                f"hold VOCdevkit/VOC2007 with JPEGImages, Annotations and ImageSets)"
            )
        split_file = voc_root / "ImageSets" / "Main" / f"{image_set}.txt"
        if (
            not download
            and image_set in ("train", "val", "trainval", "test")
            and not split_file.is_file()
        ):
            raise FileNotFoundError(
                f"VOC-2007 image_set {image_set!r}: {str(split_file)!r} is missing"
            )
        self._voc = VOCDetection(str(root), year="2007", image_set=image_set, download=download)
        self.image_size = check_image_size(image_size)
        self.normalization = normalization
        self.classes = tuple(classes)
        self.include_difficult = include_difficult
        self._segmentation_dir = voc_root / "SegmentationClass"

    def __len__(self) -> int:
        return len(self._voc)

    def _parsed(self, index: int) -> dict:
        """Image ``index``'s annotation file as a dictionary; a ``ValueError`` naming the file
        where it is not well-formed XML or lacks VOC's ``annotation`` element."""
        path = self._voc.annotations[index]
        try:
            parsed = self._voc.parse_voc_xml(parse_xml(path).getroot())
        except ParseError as error:
            raise ValueError(
                f"VOC annotation {str(path)!r} is not well-formed XML: {error}"
            ) from error
        if not isinstance(parsed.get("annotation"), dict):
            raise ValueError(f"VOC annotation {str(path)!r} has no <annotation> element")
        return parsed["annotation"]

    def annotation(self, index: int) -> list[dict]:
        """The objects of image ``index``: ``name``, ``difficult`` (bool) and ``bndbox``."""
        objects = self._parsed(index).get("object", [])
        objects = objects if isinstance(objects, list) else [objects]
        try:
            return [
                {
                    "name": o["name"],
                    "difficult": o.get("difficult", "0") == "1",
                    "bndbox": o["bndbox"],
                }
                for o in objects
            ]
        except (KeyError, TypeError) as error:
            raise ValueError(
                f"VOC annotation {str(self._voc.annotations[index])!r}: an <object> lacks "
                f"<name> or <bndbox>"
            ) from error

    def _multi_hot(self, names: list[str]) -> torch.Tensor:
        labels = torch.zeros(len(self.classes))
        for name in names:
            if name not in self.classes:
                raise KeyError(
                    f"unknown class {name!r} in VOC annotation; known: {list(self.classes)}"
                )
            labels[self.classes.index(name)] = 1.0
        return labels

    def labels(self, index: int) -> torch.Tensor:
        """Multi-hot labels ``(K,)`` of image ``index`` (each class once, however many objects)."""
        objects = self.annotation(index)
        return self._multi_hot(
            [o["name"] for o in objects if self.include_difficult or not o["difficult"]]
        )

    def difficult(self, index: int) -> torch.Tensor:
        """Multi-hot ``(K,)`` of the classes present *only* as ``difficult`` objects."""
        objects = self.annotation(index)
        hard = self._multi_hot([o["name"] for o in objects if o["difficult"]])
        easy = self._multi_hot([o["name"] for o in objects if not o["difficult"]])
        return hard * (1 - easy)

    def original_size(self, index: int) -> torch.Tensor:
        """``(2,)`` height and width of image ``index`` before resizing (from its annotation)."""
        size = self._parsed(index).get("size")
        try:
            return torch.tensor([int(size["height"]), int(size["width"])])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"VOC annotation {str(self._voc.annotations[index])!r} has no valid "
                f"<size><height>/<width>"
            ) from error

    def pointing_truth(self, index: int) -> torch.Tensor:
        """``(K, S, S)`` bool: each class's bounding boxes at the model's resolution, the
        ground truth of TorchRay's pointing game on VOC (difficult objects as in
        :meth:`labels`)."""
        height, width = self.original_size(index).tolist()
        objects = [
            o for o in self.annotation(index) if self.include_difficult or not o["difficult"]
        ]
        truth = torch.zeros(len(self.classes), self.image_size, self.image_size, dtype=torch.bool)
        if not objects:
            return truth
        # VOC boxes are 1-based, inclusive pixel ranges; a resized pixel centre c lies in
        # the box when xmin - 1 <= c * W / S < xmax.
        boxes = torch.tensor(
            [[float(o["bndbox"][k]) for k in ("xmin", "ymin", "xmax", "ymax")] for o in objects]
        )
        centres = torch.arange(self.image_size, dtype=torch.float32) + 0.5
        xs, ys = centres * width / self.image_size, centres * height / self.image_size
        inside_x = (xs[None] >= boxes[:, :1] - 1) & (xs[None] < boxes[:, 2:3])
        inside_y = (ys[None] >= boxes[:, 1:2] - 1) & (ys[None] < boxes[:, 3:4])
        masks = inside_y[:, :, None] & inside_x[:, None, :]  # (objects, S, S)
        owners = torch.tensor([self.classes.index(o["name"]) for o in objects])
        truth.index_put_((owners,), masks, accumulate=True)
        return truth

    def _segmentation_path(self, index: int) -> Path:
        return self._segmentation_dir / (Path(self._voc.images[index]).stem + ".png")

    def has_segmentation(self, index: int) -> bool:
        """Whether VOC has a class segmentation for image ``index`` (its segmentation subset)."""
        return self._segmentation_path(index).is_file()

    def __getitem__(self, index: int) -> Item:
        image = Image.open(self._voc.images[index])
        tensor = image_to_tensor(image, self.image_size, self.normalization)
        seg_path = self._segmentation_path(index)
        segmentation = None
        if seg_path.is_file():
            # VOC's class PNGs are palette images whose indices are the class numbers.
            segmentation = segmentation_to_tensor(np.asarray(Image.open(seg_path)), self.image_size)
        return tensor, self.labels(index), segmentation
