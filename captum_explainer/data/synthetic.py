"""The built-in synthetic dataset: multi-label shape scenes with pixel-exact ground truth."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from captum_explainer.data._scenes import (
    SPLIT_IDS,
    check_index,
    check_scene_arguments,
    contrasting_colour,
)
from captum_explainer.data._shapes import SHAPES
from captum_explainer.data.export import export_coco, export_voc
from captum_explainer.data.types import Item, Normalization, Scene, owner_segmentation

#: Per-channel mean and standard deviation of the generator's images in [0, 1], measured
#: on 2,000 training images (``SyntheticScenes.measure_statistics``). Normalising with
#: them makes "zeros in normalised space" the dataset's mean colour, the default baseline.
SYNTHETIC_NORMALIZATION = Normalization(mean=(0.492, 0.507, 0.503), std=(0.201, 0.203, 0.201))


@dataclass(frozen=True)
class SceneConfig:
    """How scenes are drawn. Sizes are fractions of the image side, so any size works.

    Example:
        >>> from captum_explainer import SyntheticScenes
        >>> from captum_explainer.data import SceneConfig
        >>> crowded = SceneConfig(min_objects=3, max_objects=3, min_distractors=0, max_distractors=0)
        >>> scenes = SyntheticScenes(4, image_size=32, config=crowded)
        >>> all(int(labels.sum()) >= 1 for _, labels, _ in scenes)  # 3 objects, classes may repeat
        True
    """

    min_objects: int = 1
    max_objects: int = 3
    min_object_size: float = 0.28
    max_object_size: float = 0.46
    max_occluded_fraction: float = 0.35
    min_distractors: int = 1
    max_distractors: int = 4
    noise_std: float = 0.03
    min_colour_contrast: float = 0.35


class SyntheticScenes(Dataset):
    """Multi-label scenes of coloured shapes on cluttered backgrounds, generated on the fly.

    Classes differ by shape only (colours are random per instance). Each image holds 1 to 3
    objects with random size, position and rotation; objects may partly occlude each other.
    The background is a smooth colour gradient with noise, strokes and soft blobs that
    belong to no class. Every item is a deterministic function of ``(seed, split, index)``.

    Args:
        length: number of items.
        image_size: side of the square images in pixels (at least 16).
        num_classes: number of shape classes used, at most ``len(SyntheticScenes.ALL_CLASSES)``.
        seed: base seed; the same ``(seed, split, index)`` always gives the same item.
        split: ``"train"``, ``"val"`` or ``"test"``: independent streams for one seed.
        normalize: if True (default), images are normalised with
            ``SYNTHETIC_NORMALIZATION``; otherwise they are returned in [0, 1].
        config: drawing parameters (:class:`SceneConfig`).

    Each item is ``(image, labels, segmentation)``: a float tensor ``(3, S, S)``, a multi-hot
    float tensor ``(K,)`` and a long tensor ``(S, S)`` holding 0 for background, ``k + 1``
    for class ``k`` and 255 on a one-pixel band around each object, as PASCAL VOC marks
    its object boundaries.

    Example:
        >>> from captum_explainer import SyntheticScenes
        >>> scenes = SyntheticScenes(100, image_size=64, seed=7, split="test")
        >>> image, labels, segmentation = scenes[0]  # a function of (seed, split, index)
        >>> image.shape, labels.shape, segmentation.shape
        (torch.Size([3, 64, 64]), torch.Size([8]), torch.Size([64, 64]))
        >>> scenes.classes[:3]
        ('circle', 'square', 'triangle')
    """

    ALL_CLASSES: tuple[str, ...] = tuple(SHAPES)

    def __init__(
        self,
        length: int = 1000,
        image_size: int = 64,
        num_classes: int = 8,
        seed: int = 0,
        split: str = "train",
        normalize: bool = True,
        config: SceneConfig | None = None,
    ) -> None:
        check_scene_arguments(length, image_size, 16, split)
        if not 1 <= num_classes <= len(self.ALL_CLASSES):
            raise ValueError(
                f"num_classes must be between 1 and {len(self.ALL_CLASSES)}, got {num_classes!r}"
            )
        self.length = length
        self.image_size = image_size
        self.num_classes = num_classes
        self.seed = seed
        self.split = split
        self.normalize = normalize
        self.config = config or SceneConfig()
        self.classes: tuple[str, ...] = self.ALL_CLASSES[:num_classes]
        self._shape_fns = [SHAPES[name] for name in self.classes]
        # Pixel-centre coordinates, shared by every object drawn.
        coords = np.arange(image_size, dtype=np.float64) + 0.5
        self._yy, self._xx = np.meshgrid(coords, coords, indexing="ij")

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Item:
        index = check_index(index, self.length)
        image, labels, segmentation = self.render(index)
        tensor = torch.from_numpy(image).permute(2, 0, 1).float()
        if self.normalize:
            tensor = SYNTHETIC_NORMALIZATION.normalize(tensor)
        return tensor, torch.from_numpy(labels), torch.from_numpy(segmentation)

    def class_index(self, name: str) -> int:
        """The label index of a class name; raises ``KeyError`` naming the known classes."""
        if name not in self.classes:
            raise KeyError(
                f"unknown class {name!r}; this dataset's classes are {list(self.classes)}"
            )
        return self.classes.index(name)

    # ------------------------------------------------------------------ drawing
    def render(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw item ``index``: image ``(S, S, 3)`` in [0, 1], labels ``(K,)``, segmentation."""
        scene = self.scene(index)
        labels = np.zeros(self.num_classes, dtype=np.float32)
        labels[scene.object_classes] = 1.0
        return scene.image, labels, self.segmentation(scene)

    def scene(self, index: int) -> Scene:
        """Draw item ``index`` with its instances (what the VOC and COCO exporters need)."""
        rng = np.random.default_rng([self.seed, SPLIT_IDS[self.split], index])
        cfg = self.config
        image = self._background(rng)
        owner = np.full((self.image_size, self.image_size), -1, dtype=np.int64)
        object_classes: list[int] = []
        areas: list[int] = []
        n_objects = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
        for _ in range(n_objects):
            placed = self._place_object(rng, image, owner, areas, object_classes)
            if not placed and not object_classes:
                raise RuntimeError("could not place an object; image_size too small?")
        return Scene(image.astype(np.float32), owner, object_classes)

    def _background(self, rng: np.random.Generator) -> np.ndarray:
        cfg = self.config
        size = self.image_size
        direction = rng.normal(size=2)
        direction /= np.linalg.norm(direction) + 1e-12
        ramp = (self._xx * direction[0] + self._yy * direction[1]) / size
        ramp = (ramp - ramp.min()) / (np.ptp(ramp) + 1e-12)
        start, end = rng.uniform(0.1, 0.9, size=(2, 3))
        image = start + ramp[..., None] * (end - start)
        for _ in range(int(rng.integers(cfg.min_distractors, cfg.max_distractors + 1))):
            if rng.random() < 0.5:
                self._stroke(rng, image)
            else:
                self._blob(rng, image)
        image += rng.normal(scale=cfg.noise_std, size=image.shape)
        return np.clip(image, 0.0, 1.0)

    def _stroke(self, rng: np.random.Generator, image: np.ndarray) -> None:
        """A thin straight line segment: clutter with edges, but no closed shape."""
        size = self.image_size
        p0, p1 = rng.uniform(0, size, size=(2, 2))
        width = rng.uniform(0.6, 1.2) * size / 64
        d = p1 - p0
        t = ((self._xx - p0[0]) * d[0] + (self._yy - p0[1]) * d[1]) / (d @ d + 1e-12)
        t = np.clip(t, 0.0, 1.0)
        dist = np.hypot(self._xx - (p0[0] + t * d[0]), self._yy - (p0[1] + t * d[1]))
        image[dist <= width] = rng.uniform(0, 1, size=3)

    def _blob(self, rng: np.random.Generator, image: np.ndarray) -> None:
        """A soft Gaussian blob: colour mass without a hard outline."""
        size = self.image_size
        centre = rng.uniform(0, size, size=2)
        sigma = rng.uniform(0.05, 0.12) * size
        alpha = np.exp(
            -((self._xx - centre[0]) ** 2 + (self._yy - centre[1]) ** 2) / (2 * sigma**2)
        )
        alpha = 0.7 * alpha[..., None]
        image[:] = (1 - alpha) * image + alpha * rng.uniform(0, 1, size=3)

    def _place_object(
        self,
        rng: np.random.Generator,
        image: np.ndarray,
        owner: np.ndarray,
        areas: list[int],
        object_classes: list[int],
    ) -> bool:
        """Try a few random poses; keep the first that hides too little of earlier objects."""
        cfg = self.config
        size = self.image_size
        cls = int(rng.integers(self.num_classes))
        for _ in range(10):
            side = rng.uniform(cfg.min_object_size, cfg.max_object_size) * size
            half = side / 2
            cx, cy = rng.uniform(half, size - half, size=2)
            angle = rng.uniform(0, 2 * np.pi)
            cos, sin = np.cos(angle), np.sin(angle)
            dx, dy = self._xx - cx, self._yy - cy
            u = (cos * dx + sin * dy) / half
            v = (-sin * dx + cos * dy) / half
            mask = self._shape_fns[cls](u, v)
            if mask.sum() < 4:
                continue
            remaining = np.bincount(owner[~mask & (owner >= 0)], minlength=len(areas))
            if any(
                remaining[i] < (1 - cfg.max_occluded_fraction) * areas[i] for i in range(len(areas))
            ):
                continue
            colour = contrasting_colour(rng, image[mask].mean(axis=0), cfg.min_colour_contrast)
            image[mask] = colour
            owner[mask] = len(areas)
            areas.append(int(mask.sum()))
            object_classes.append(cls)
            return True
        return False

    def segmentation(self, scene: Scene) -> np.ndarray:
        """VOC-style class map of a scene: 0 background, ``k + 1`` class ``k``, 255 boundary."""
        return owner_segmentation(scene.owner, scene.object_classes)

    # ------------------------------------------------------------------ helpers
    def measure_statistics(self, n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel mean and std of ``n`` un-normalised images (how the constants were set)."""
        pixels = np.stack([self.render(i)[0] for i in range(min(n, self.length))])
        return pixels.mean(axis=(0, 1, 2)), pixels.std(axis=(0, 1, 2))

    def export_voc(self, root: str | os.PathLike, image_set: str = "train") -> Path:
        """Write every item in PASCAL VOC-2007's on-disk layout (see :func:`export.export_voc`)."""
        return export_voc(self, root, image_set=image_set)

    def export_coco(self, root: str | os.PathLike, split: str = "val") -> Path:
        """Write every item in MS COCO-2014's on-disk layout (see :func:`export.export_coco`)."""
        return export_coco(self, root, split=split)
