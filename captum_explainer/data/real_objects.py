"""The real-objects world: photographs of real objects pasted on crops of real photographs.

A second built-in dataset beside :class:`SyntheticScenes`, closer to what users' classifiers
see: 10 object classes (7 Fashion-MNIST products and 3 MNIST digits), 1 to 3 objects per image,
scaled, coloured and partly occluding each other on crops of scikit-image's photographs, with a
pixel-exact segmentation. The sources are found offline by package name
(see :mod:`captum_explainer.data._object_sources`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from captum_explainer.data._object_sources import ObjectSources, load_sources
from captum_explainer.data._scenes import (
    SPLIT_IDS,
    check_index,
    check_scene_arguments,
    contrasting_colour,
)
from captum_explainer.data.types import IMAGENET_NORMALIZATION, Item, Scene, owner_segmentation

#: The classes: ``(name, source, label in the source)``. Fashion-MNIST's four upper-body
#: garments (pullover, coat, shirt and the T-shirt's look-alikes) are left out but one: at
#: 40-60 px they are hard to tell apart even for a good classifier, which is not the point.
REAL_OBJECT_CLASSES: tuple[tuple[str, str, int], ...] = (
    ("t-shirt", "fashion", 0),
    ("trouser", "fashion", 1),
    ("dress", "fashion", 3),
    ("sandal", "fashion", 5),
    ("sneaker", "fashion", 7),
    ("bag", "fashion", 8),
    ("ankle boot", "fashion", 9),
    ("zero", "mnist", 0),
    ("four", "mnist", 4),
    ("seven", "mnist", 7),
)


@dataclass(frozen=True)
class ObjectSceneConfig:
    """How real-object scenes are drawn; sizes are fractions of the image side.

    Example:
        >>> import numpy as np
        >>> from captum_explainer.data import ObjectSceneConfig, ObjectSources, RealObjects
        >>> config = ObjectSceneConfig(min_objects=1, max_objects=1)  # one object per scene
        >>> sprites = tuple(np.full((2, 28, 28), 200, np.uint8) for _ in range(10))
        >>> photos = (np.random.default_rng(0).integers(0, 255, (96, 96, 3), dtype=np.uint8),)
        >>> scenes = RealObjects(4, 64, sources=ObjectSources(sprites, photos), config=config)
        >>> [int(labels.sum()) for _, labels, _ in scenes]
        [1, 1, 1, 1]
    """

    min_objects: int = 1
    max_objects: int = 3
    min_object_size: float = 0.32
    max_object_size: float = 0.52
    max_occluded_fraction: float = 0.35
    #: An object pixel is one whose (resized) gray value reaches this fraction of 255.
    alpha_threshold: float = 0.25
    min_crop: float = 0.25
    min_colour_contrast: float = 0.35


class RealObjects(Dataset):
    """Multi-label scenes of real objects on real photographs, drawn on the fly.

    Each item is a deterministic function of ``(seed, split, index)``: a background crop of a
    photograph (random place and scale, random flip, grayscale photographs tinted), then 1-3
    objects, each a random image of its class scaled to 32-52 % of the side, given a colour
    that stands out from what it covers (shaded by the object's own gray values), pasted so
    that no earlier object loses more than 35 % of its pixels. Training scenes never repeat
    within ``length``, so a large ``length`` gives fresh scenes for a long run.

    Args:
        length: number of items.
        image_size: side of the square images in pixels (at least 32; default 128).
        seed: base seed; the same ``(seed, split, index)`` always gives the same item.
        split: ``"train"``, ``"val"`` or ``"test"``: disjoint object images (Fashion-MNIST's
            test file for ``"test"``), the same photographs.
        normalize: if True (default), ImageNet normalisation (torchvision's); else [0, 1].
        sources: the object images and photographs; default: the installed packages
            (:func:`~captum_explainer.data._object_sources.load_sources`). Tests pass a
            small stand-in.
        config: drawing parameters (:class:`ObjectSceneConfig`).

    Items are ``(image (3, S, S), multi-hot labels (10,), segmentation (S, S))`` with 0 for
    background, ``k + 1`` for class ``k`` and 255 on a one-pixel band around each object.

    Example:
        >>> import numpy as np
        >>> from captum_explainer.data import ObjectSources, RealObjects
        >>> # RealObjects(1000) draws on the installed sources (the realobjects extra and Debian's
        >>> # dataset-fashion-mnist); here a stand-in: 10 classes of gray squares, one photograph.
        >>> sprites = tuple(np.full((2, 28, 28), 200, np.uint8) for _ in range(10))
        >>> photos = (np.random.default_rng(0).integers(0, 255, (96, 96, 3), dtype=np.uint8),)
        >>> scenes = RealObjects(8, image_size=64, sources=ObjectSources(sprites, photos))
        >>> image, labels, segmentation = scenes[0]
        >>> image.shape, labels.shape, segmentation.shape
        (torch.Size([3, 64, 64]), torch.Size([10]), torch.Size([64, 64]))
        >>> len(RealObjects.ALL_CLASSES)
        10
    """

    ALL_CLASSES: tuple[str, ...] = tuple(name for name, _, _ in REAL_OBJECT_CLASSES)
    NORMALIZATION = IMAGENET_NORMALIZATION

    def __init__(
        self,
        length: int = 1000,
        image_size: int = 128,
        seed: int = 0,
        split: str = "train",
        normalize: bool = True,
        sources: ObjectSources | None = None,
        config: ObjectSceneConfig | None = None,
    ) -> None:
        check_scene_arguments(length, image_size, 32, split)
        self.sources = sources or load_sources(REAL_OBJECT_CLASSES, split)
        if len(self.sources.sprites) != len(self.ALL_CLASSES):
            raise ValueError(
                f"sources must hold object images for {len(self.ALL_CLASSES)} classes, "
                f"got {len(self.sources.sprites)}"
            )
        self.length = length
        self.image_size = image_size
        self.seed = seed
        self.split = split
        self.normalize = normalize
        self.config = config or ObjectSceneConfig()
        self.classes = self.ALL_CLASSES
        self.num_classes = len(self.classes)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Item:
        scene = self.scene(check_index(index, self.length))
        labels = torch.zeros(self.num_classes)
        labels[scene.object_classes] = 1.0
        image = torch.from_numpy(scene.image).permute(2, 0, 1)
        if self.normalize:
            image = self.NORMALIZATION.normalize(image)
        segmentation = owner_segmentation(scene.owner, scene.object_classes)
        return image, labels, torch.from_numpy(segmentation)

    # ------------------------------------------------------------------ drawing
    def scene(self, index: int) -> Scene:
        """Draw item ``index`` with the object that owns each pixel."""
        rng = np.random.default_rng([self.seed, SPLIT_IDS[self.split], index, 7])
        cfg = self.config
        size = self.image_size
        image = self._background(rng)
        owner = np.full((size, size), -1, dtype=np.int64)
        classes: list[int] = []
        areas: list[int] = []
        for _ in range(int(rng.integers(cfg.min_objects, cfg.max_objects + 1))):
            self._place_object(rng, image, owner, areas, classes)
        if not classes:
            raise RuntimeError(f"could not place an object in a {size} px scene")
        return Scene(image, owner, classes)

    def _background(self, rng: np.random.Generator) -> np.ndarray:
        photos = self.sources.photos
        photo = photos[int(rng.integers(len(photos)))]
        height, width = photo.shape[:2]
        side = rng.uniform(self.config.min_crop, 1.0) * min(height, width)
        top = rng.uniform(0, height - side)
        left = rng.uniform(0, width - side)
        box = (left, top, left + side, top + side)
        crop = Image.fromarray(photo).resize(
            (self.image_size, self.image_size), Image.BILINEAR, box=box
        )
        image = np.asarray(crop, dtype=np.float32) / 255.0
        if rng.random() < 0.5:
            image = image[:, ::-1]
        if np.ptp(image.mean(axis=(0, 1))) < 0.02:  # a grayscale photograph: tint it
            image = image * rng.uniform(0.6, 1.0, size=3).astype(np.float32)
        contrast, brightness = rng.uniform(0.7, 1.1), rng.uniform(-0.1, 0.1)
        return np.clip((image - 0.5) * contrast + 0.5 + brightness, 0.0, 1.0).astype(np.float32)

    def _place_object(
        self,
        rng: np.random.Generator,
        image: np.ndarray,
        owner: np.ndarray,
        areas: list[int],
        classes: list[int],
    ) -> None:
        """Try a few random poses; keep the first that hides too little of earlier objects."""
        cfg = self.config
        size = self.image_size
        cls = int(rng.integers(self.num_classes))
        pool = self.sources.sprites[cls]
        sprite = pool[int(rng.integers(len(pool)))]
        for _ in range(10):
            side = max(4, int(round(rng.uniform(cfg.min_object_size, cfg.max_object_size) * size)))
            alpha = (
                np.asarray(
                    Image.fromarray(sprite).resize((side, side), Image.BILINEAR), dtype=np.float32
                )
                / 255.0
            )
            mask = alpha >= cfg.alpha_threshold
            if mask.sum() < 4:
                continue
            top, left = (int(v) for v in rng.integers(0, size - side + 1, size=2))
            window = (slice(top, top + side), slice(left, left + side))
            covered = owner[window][mask]
            hidden = np.bincount(covered[covered >= 0], minlength=len(areas))
            if any(hidden[i] > cfg.max_occluded_fraction * areas[i] for i in range(len(areas))):
                continue
            region = image[window]
            colour = contrasting_colour(
                rng, region[mask].mean(axis=0), cfg.min_colour_contrast
            ).astype(np.float32)
            # Shade by the object's own gray values, so its texture (folds, laces) stays.
            shade = (0.45 + 0.55 * alpha[mask])[:, None]
            region[mask] = np.clip(colour * shade + 0.08 * (1 - shade), 0.0, 1.0)
            owner[window][mask] = len(areas)
            areas.append(int(mask.sum()))
            classes.append(cls)
            return
