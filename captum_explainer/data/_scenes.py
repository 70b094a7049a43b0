"""What the generated worlds (synthetic shapes, real objects) share: their arguments' checks,
their split streams and how an object gets a colour that stands out."""

from __future__ import annotations

import numpy as np

#: Independent random streams of one seed.
SPLIT_IDS = {"train": 0, "val": 1, "test": 2}


def check_scene_arguments(length: object, image_size: object, min_size: int, split: str) -> None:
    """A ``ValueError`` naming the argument, its value and what is accepted."""
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be a positive integer, got {length!r}")
    if not isinstance(image_size, int) or image_size < min_size:
        raise ValueError(f"image_size must be an integer >= {min_size}, got {image_size!r}")
    if split not in SPLIT_IDS:
        raise ValueError(f"split must be one of {sorted(SPLIT_IDS)}, got {split!r}")


def check_index(index: int, length: int) -> int:
    """``index`` as a position in ``0 ... length - 1`` (negative indices count from the end)."""
    if not -length <= index < length:
        raise IndexError(f"index {index} out of range for a dataset of length {length}")
    return index % length


def contrasting_colour(
    rng: np.random.Generator, background: np.ndarray, min_contrast: float
) -> np.ndarray:
    """A random RGB colour at least ``min_contrast`` (Euclidean) from ``background``, or the
    last of 20 draws."""
    colour = rng.uniform(0, 1, size=3)
    for _ in range(20):
        if np.linalg.norm(colour - background) >= min_contrast:
            break
        colour = rng.uniform(0, 1, size=3)
    return colour
