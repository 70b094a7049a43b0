"""Write :class:`SyntheticScenes` to disk in the formats of PASCAL VOC-2007 and MS COCO-2014.

Users get a real-format copy of the synthetic data to try their own VOC or COCO tooling
on, and the tests read these folders back through :class:`VOC2007` and :class:`COCO2014`.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from captum_explainer.data.types import Scene
from captum_explainer.output_files import atomic_write


class SceneSource(Protocol):
    """What the exporters read from a generated dataset (:class:`SyntheticScenes` is one)."""

    classes: tuple[str, ...]
    image_size: int
    split: str

    def __len__(self) -> int: ...

    def scene(self, index: int) -> Scene: ...

    def segmentation(self, scene: Scene) -> np.ndarray: ...


VOC_SUBDIR = Path("VOCdevkit") / "VOC2007"


def voc_palette() -> list[int]:
    """PASCAL VOC's colour map: class ``k`` gets the bit-interleaved colour of ``k``."""
    indices = np.arange(256)
    palette = np.zeros((256, 3), dtype=np.int64)
    for bit in range(8):
        for channel in range(3):
            palette[:, channel] |= ((indices >> (3 * bit + channel)) & 1) << (7 - bit)
    return palette.astype(np.uint8).reshape(-1).tolist()


def _bounding_boxes(owner: np.ndarray, n_objects: int) -> list[tuple[int, int, int, int]]:
    """VOC-style 1-based inclusive ``(xmin, ymin, xmax, ymax)`` of each object's visible pixels."""
    boxes = []
    for obj in range(n_objects):
        ys, xs = np.nonzero(owner == obj)
        boxes.append((int(xs.min()) + 1, int(ys.min()) + 1, int(xs.max()) + 1, int(ys.max()) + 1))
    return boxes


def _voc_annotation(name: str, size: int, classes: list[str], boxes: list) -> bytes:
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = "VOC2007"
    ET.SubElement(root, "filename").text = f"{name}.jpg"
    size_el = ET.SubElement(root, "size")
    for tag, value in (("width", size), ("height", size), ("depth", 3)):
        ET.SubElement(size_el, tag).text = str(value)
    ET.SubElement(root, "segmented").text = "1"
    for cls, box in zip(classes, boxes):
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = cls
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "truncated").text = "0"
        ET.SubElement(obj, "difficult").text = "0"
        bndbox = ET.SubElement(obj, "bndbox")
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), box):
            ET.SubElement(bndbox, tag).text = str(value)
    return ET.tostring(root)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def _save_image(image: Image.Image, path: Path, **kwargs: object) -> None:
    suffix = path.suffix.lstrip(".").upper()
    fmt = "JPEG" if suffix in ("JPG", "JPEG") else suffix
    atomic_write(path, lambda tmp: image.save(tmp, format=fmt, **kwargs))


def export_voc(dataset: SceneSource, root: str | os.PathLike, image_set: str = "train") -> Path:
    """Write ``dataset`` under ``root/VOCdevkit/VOC2007`` as VOC-2007 lays it out.

    Writes ``JPEGImages/*.jpg``, ``Annotations/*.xml`` (one ``object`` per instance,
    ``difficult`` 0), ``SegmentationClass/*.png`` (palette PNG: 0 background, ``k + 1``
    class ``k``, 255 boundaries) and the ``ImageSets/Main`` and ``ImageSets/Segmentation``
    lists of ``image_set``. Image ids are ``{split}_{index:06d}``.

    Returns:
        The ``VOC2007`` folder.
    """
    voc = Path(root) / VOC_SUBDIR
    palette = voc_palette()
    ids = []
    for index in range(len(dataset)):
        scene = dataset.scene(index)
        segmentation = dataset.segmentation(scene)
        name = f"{dataset.split}_{index:06d}"
        ids.append(name)
        _save_image(
            Image.fromarray(_to_uint8(scene.image)), voc / "JPEGImages" / f"{name}.jpg", quality=95
        )
        seg = Image.fromarray(segmentation.astype(np.uint8), mode="P")
        seg.putpalette(palette)
        _save_image(seg, voc / "SegmentationClass" / f"{name}.png")
        names = [dataset.classes[c] for c in scene.object_classes]
        boxes = _bounding_boxes(scene.owner, len(names))
        xml = _voc_annotation(name, dataset.image_size, names, boxes)
        atomic_write(
            voc / "Annotations" / f"{name}.xml", lambda tmp, xml=xml: Path(tmp).write_bytes(xml)
        )
    listing = "\n".join(ids) + "\n"
    for sub in ("Main", "Segmentation"):
        atomic_write(
            voc / "ImageSets" / sub / f"{image_set}.txt", lambda tmp: Path(tmp).write_text(listing)
        )
    return voc


def _uncompressed_rle(mask: np.ndarray) -> dict:
    """COCO's uncompressed RLE of a binary mask (column-major runs, starting with zeros)."""
    flat = mask.flatten(order="F").astype(np.int8)
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0] == 1:
        counts = [0, *counts]
    return {"counts": counts, "size": list(mask.shape)}


def export_coco(dataset: SceneSource, root: str | os.PathLike, split: str = "val") -> Path:
    """Write ``dataset`` as COCO-2014 lays it out: ``{split}2014/*.jpg`` and
    ``annotations/instances_{split}2014.json`` with one RLE-segmented instance per object.

    Category ids start at 1 and skip every other number, as COCO's ids have gaps, so
    readers that assume contiguous ids fail in the tests, not on real data.

    Returns:
        ``root``.
    """
    root = Path(root)
    images, annotations = [], []
    categories = [
        {"id": 2 * k + 1, "name": name, "supercategory": "shape"}
        for k, name in enumerate(dataset.classes)
    ]
    for index in range(len(dataset)):
        scene = dataset.scene(index)
        file_name = f"COCO_{split}2014_{index:012d}.jpg"
        _save_image(
            Image.fromarray(_to_uint8(scene.image)), root / f"{split}2014" / file_name, quality=95
        )
        images.append(
            {
                "id": index + 1,
                "file_name": file_name,
                "width": dataset.image_size,
                "height": dataset.image_size,
            }
        )
        boxes = _bounding_boxes(scene.owner, len(scene.object_classes))
        for obj, (cls, box) in enumerate(zip(scene.object_classes, boxes)):
            mask = scene.owner == obj
            x0, y0, x1, y1 = box
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": index + 1,
                    "category_id": categories[cls]["id"],
                    "iscrowd": 0,
                    "area": float(mask.sum()),
                    "bbox": [x0 - 1, y0 - 1, x1 - x0 + 1, y1 - y0 + 1],
                    "segmentation": _uncompressed_rle(mask),
                }
            )
    content = json.dumps({"images": images, "annotations": annotations, "categories": categories})
    atomic_write(
        root / "annotations" / f"instances_{split}2014.json",
        lambda tmp: Path(tmp).write_text(content),
    )
    return root
