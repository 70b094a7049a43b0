"""A user's own images: a folder per class (single-label) or a listing (multi-label).

- :class:`ImageFolderData`: ``root/<class>/<image>``, as torchvision's ``ImageFolder``
  reads it: each image has one label, the name of its folder.
- :class:`ImageListData`: a CSV file (columns ``path`` and ``labels``, labels separated by
  ``;``) or a JSON file (a list of ``{"path": ..., "labels": [...]}``): any number of labels
  per image.

Both resize and normalise as the classifier expects (``image_size``, ``normalization``,
``channels``) and give the package's items ``(image, multi-hot labels, segmentation)``. A
``masks`` folder may hold ground truth for ``evaluate``: for image ``a/b.jpg`` the PNG
``masks/a/b.png`` of class indices (0 background, ``k + 1`` class ``k``, 255 void), the
image's size.

**Unreadable files** (truncated, corrupt, not an image, unreadable for permissions, links
that point nowhere): with ``strict=False`` (the default) every image is decoded once when the
dataset is made, the unreadable ones are left out and listed in :attr:`skipped` (with a
warning that counts them), so a large folder with a few bad files still trains and
evaluates; they never count as images. With ``strict=True`` the first one stops the run with
a ``ValueError`` naming it, when it is read. Bad ground-truth masks are always an error.
"""

from __future__ import annotations

import csv
import json
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from captum_explainer.data._transforms import (
    check_image_size,
    image_file_to_tensor,
    read_image,
    segmentation_to_tensor,
)
from captum_explainer.data.types import BOUNDARY_LABEL, Item, Normalization

#: Image file endings read from folders (torchvision's ``ImageFolder`` list, and GIF, whose
#: first frame is read): the one list every folder walk of the package uses.
IMAGE_SUFFIXES = (
    ".jpg",
    ".jpeg",
    ".png",
    ".ppm",
    ".bmp",
    ".pgm",
    ".tif",
    ".tiff",
    ".webp",
    ".gif",
)


def image_files(
    folder: Path, recursive: bool = False, skipped: Callable[[str], None] | None = None
) -> Iterator[Path]:
    """The files of ``folder`` (``recursive``: and its subfolders) whose suffix is one of
    :data:`IMAGE_SUFFIXES`, sorted; each other file is reported by ``skipped(line)``.

    Links to folders are not followed (a link loop cannot trap the walk); a link to a file
    that does not exist is yielded, so that its reader reports it instead of losing it.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from captum_explainer.data.user_images import image_files
        >>> with tempfile.TemporaryDirectory() as root:
        ...     for name in ("b.JPG", "a.png", "notes.txt"):
        ...         _ = (Path(root) / name).write_bytes(b"")
        ...     [p.name for p in image_files(Path(root), skipped=print)]
        skipping '.../notes.txt': not an image (.txt)
        ['a.png', 'b.JPG']
    """
    entries = folder.rglob("*") if recursive else folder.iterdir()
    for path in sorted(p for p in entries if p.is_file() or (p.is_symlink() and not p.exists())):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            yield path
        elif skipped is not None:
            skipped(f"skipping {str(path)!r}: not an image ({path.suffix or 'no suffix'})")


def unreadable_reason(path: Path, channels: int = 3) -> str | None:
    """Why ``path`` cannot be read as an image (``None`` if it can): every pixel is
    decoded, as a training or evaluation run would."""
    try:
        image_file_to_tensor(path, 8, Normalization((0.0,) * channels, (1.0,) * channels), channels)
    except ValueError as error:
        return str(error)
    return None


#: What separates labels in a CSV listing's ``labels`` column.
LABEL_SEPARATOR = ";"


class _ImageFiles(Dataset):
    """Shared reading: one image file, its labels and its optional mask per item."""

    task = "multilabel"

    def __init__(
        self,
        files: list[Path],
        labels: list[list[int]],
        classes: list[str],
        image_size: int,
        normalization: Normalization,
        channels: int,
        root: Path,
        masks: str | os.PathLike | None,
        strict: bool = False,
    ) -> None:
        check_image_size(image_size)
        if len(normalization.mean) != channels:
            raise ValueError(
                f"normalization has {len(normalization.mean)} channels but channels={channels}"
            )
        #: ``(file, reason)`` of each unreadable image left out (``strict=False``).
        self.skipped: list[tuple[Path, str]] = []
        if not strict:
            files, labels = self._readable(files, labels, channels, root)
        self.files, self._labels, self.classes = files, labels, list(classes)
        self.image_size, self.normalization, self.channels = image_size, normalization, channels
        self.root = root
        self.masks = Path(masks) if masks is not None else None
        if self.masks is not None and not self.masks.is_dir():
            raise ValueError(f"masks must be a folder of PNG class maps, got {str(masks)!r}")

    def _readable(
        self, files: list[Path], labels: list[list[int]], channels: int, root: Path
    ) -> tuple[list[Path], list[list[int]]]:
        reasons = [unreadable_reason(path, channels) for path in files]
        self.skipped = [(f, r) for f, r in zip(files, reasons) if r is not None]
        if self.skipped:
            first, why = self.skipped[0]
            warnings.warn(
                f"{len(self.skipped)} of {len(files)} image files under {str(root)!r} cannot be "
                f"read and are left out (the first: {why}); strict=True (--strict) stops instead",
                UserWarning,
                stacklevel=4,
            )
        kept = [(f, lab) for f, lab, r in zip(files, labels, reasons) if r is None]
        if not kept:
            raise ValueError(
                f"none of the {len(files)} image files under {str(root)!r} can be read "
                f"(the first: {self.skipped[0][1]})"
            )
        return [f for f, _ in kept], [lab for _, lab in kept]

    def __len__(self) -> int:
        return len(self.files)

    def labels(self, index: int) -> torch.Tensor:
        """The multi-hot labels ``(K,)`` of item ``index``, without reading its image."""
        out = torch.zeros(len(self.classes))
        out[self._labels[index]] = 1.0
        return out

    def mask_path(self, index: int) -> Path | None:
        if self.masks is None:
            return None
        path = self.files[index]
        # Mirrors the image's place under the root; an image outside it by its name alone.
        relative = (
            path.relative_to(self.root) if path.is_relative_to(self.root) else Path(path.name)
        )
        return self.masks / relative.with_suffix(".png")

    def has_segmentation(self, index: int) -> bool:
        path = self.mask_path(index)
        return path is not None and path.is_file()

    def __getitem__(self, index: int) -> Item:
        tensor, size = image_file_to_tensor(
            self.files[index], self.image_size, self.normalization, self.channels
        )
        segmentation = None
        if self.has_segmentation(index):
            segmentation = self._segmentation(self.mask_path(index), size)
        return tensor, self.labels(index), segmentation

    def _segmentation(self, path: Path, size: tuple[int, int]) -> torch.Tensor:
        mask = read_image(path)
        if mask.size != size:
            raise ValueError(
                f"mask {str(path)!r} is {mask.size[0]} x {mask.size[1]} but its image is "
                f"{size[0]} x {size[1]}; masks must have their image's size"
            )
        values = np.asarray(mask)
        if values.ndim != 2:
            raise ValueError(f"mask {str(path)!r} must be a single-channel PNG of class indices")
        bad = (values > len(self.classes)) & (values != BOUNDARY_LABEL)
        if bad.any():
            raise ValueError(
                f"mask {str(path)!r} holds value {int(values[bad][0])}; accepted: 0 (background), "
                f"1 ... {len(self.classes)} (class index + 1) and {BOUNDARY_LABEL} (void)"
            )
        return segmentation_to_tensor(values, self.image_size)


class ImageFolderData(_ImageFiles):
    """Single-label images in one folder per class: ``root/<class name>/<image>``.

    Args:
        root: the folder of class folders (classes are the sorted folder names, as torchvision's).
        image_size: the side images are resized to.
        normalization: the classifier's input normalisation.
        channels: 3 (RGB) or 1 (grayscale).
        classes: the classifier's class names, in its output order (default: the folders');
            every folder must be one of them.
        strict: stop at the first unreadable image instead of leaving the unreadable ones
            out (:attr:`skipped`; see the module's docstring).
        masks: optional ground-truth folder (see the module's docstring).

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from PIL import Image
        >>> from captum_explainer.data import SYNTHETIC_NORMALIZATION
        >>> from captum_explainer.data.user_images import ImageFolderData
        >>> with tempfile.TemporaryDirectory() as root:
        ...     for name in ("cat/a.png", "cat/b.png", "dog/c.png"):
        ...         (Path(root) / name).parent.mkdir(exist_ok=True)
        ...         Image.new("RGB", (20, 12)).save(Path(root) / name)
        ...     data = ImageFolderData(root, 16, SYNTHETIC_NORMALIZATION)
        ...     image, labels, _ = data[2]
        >>> data.classes, tuple(image.shape), labels.tolist(), data.skipped
        (['cat', 'dog'], (3, 16, 16), [0.0, 1.0], [])
    """

    task = "single-label"

    def __init__(
        self,
        root: str | os.PathLike,
        image_size: int,
        normalization: Normalization,
        channels: int = 3,
        classes: list[str] | None = None,
        masks: str | os.PathLike | None = None,
        strict: bool = False,
    ) -> None:
        root = Path(root)
        if not root.is_dir():
            raise ValueError(f"image folder {str(root)!r} does not exist or is not a folder")
        folders = folder_classes(root)
        if not folders:
            raise ValueError(
                f"image folder {str(root)!r} has no class folders (root/<class>/<image>)"
            )
        names = list(classes) if classes is not None else folders
        unknown = [f for f in folders if f not in names]
        if unknown:
            raise ValueError(
                f"folder {str(root / unknown[0])!r} names class {unknown[0]!r}, which is not one "
                f"of the classifier's classes {names}"
            )
        files, labels = [], []
        for folder in folders:
            for path in image_files(root / folder, recursive=True):
                files.append(path)
                labels.append([names.index(folder)])
        if not files:
            raise ValueError(
                f"image folder {str(root)!r} holds no image ({', '.join(IMAGE_SUFFIXES)})"
            )
        super().__init__(
            files, labels, names, image_size, normalization, channels, root, masks, strict
        )


class ImageListData(_ImageFiles):
    """Images listed with their labels in a CSV or JSON file (multi-label).

    CSV: a header with ``path`` and ``labels``; labels are class names separated by ``;``.
    JSON: a list of objects ``{"path": "a.png", "labels": ["cat", "dog"]}``. Relative paths
    are read from ``root`` (default: the listing's folder).

    Args:
        listing: the ``.csv`` or ``.json`` file.
        image_size, normalization, channels, masks: as :class:`ImageFolderData`.
        classes: the classifier's class names, in its output order (default: every label of
            the listing, sorted); a label outside them is an error naming the line.
        root: the folder relative paths start from.
        strict: as :class:`ImageFolderData`.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from PIL import Image
        >>> from captum_explainer.data import SYNTHETIC_NORMALIZATION
        >>> from captum_explainer.data.user_images import ImageListData
        >>> with tempfile.TemporaryDirectory() as root:
        ...     Image.new("RGB", (8, 8)).save(Path(root) / "a.png")
        ...     _ = (Path(root) / "list.csv").write_text("path,labels\\na.png,cat;dog\\n")
        ...     data = ImageListData(Path(root) / "list.csv", 16, SYNTHETIC_NORMALIZATION)
        ...     labels = data[0][1]
        >>> data.classes, labels.tolist()
        (['cat', 'dog'], [1.0, 1.0])
    """

    def __init__(
        self,
        listing: str | os.PathLike,
        image_size: int,
        normalization: Normalization,
        channels: int = 3,
        classes: list[str] | None = None,
        masks: str | os.PathLike | None = None,
        root: str | os.PathLike | None = None,
        strict: bool = False,
    ) -> None:
        listing = Path(listing)
        entries = _read_listing(listing)
        base = Path(root) if root is not None else listing.parent
        names = (
            list(classes)
            if classes is not None
            else sorted({x for _, ls, _ in entries for x in ls})
        )
        files, labels = [], []
        for path, entry_labels, where in entries:
            unknown = [x for x in entry_labels if x not in names]
            if unknown:
                raise ValueError(f"{where}: unknown label {unknown[0]!r}; the classes are {names}")
            files.append(base / path)
            labels.append([names.index(x) for x in entry_labels])
        missing = [f for f in files if not f.is_file()]
        if missing:
            raise ValueError(f"{listing}: image {str(missing[0])!r} does not exist")
        super().__init__(
            files, labels, names, image_size, normalization, channels, base, masks, strict
        )


def _read_listing(listing: Path) -> list[tuple[str, list[str], str]]:
    """``(path, labels, where)`` per entry; ``where`` names the file and line for errors."""
    if not listing.is_file():
        raise ValueError(f"image listing {str(listing)!r} does not exist")
    suffix = listing.suffix.lower()
    if suffix == ".csv":
        with listing.open(newline="") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"path", "labels"} <= set(reader.fieldnames):
                raise ValueError(
                    f"{listing}: the CSV header must name the columns 'path' and 'labels', got "
                    f"{reader.fieldnames}"
                )
            return [
                (
                    row["path"],
                    [x.strip() for x in (row["labels"] or "").split(LABEL_SEPARATOR) if x.strip()],
                    f"{listing}, line {line}",
                )
                for line, row in enumerate(reader, start=2)
            ]
    if suffix == ".json":
        try:
            entries = json.loads(listing.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{listing}: not valid JSON ({error})") from error
        out = []
        for i, entry in enumerate(entries if isinstance(entries, list) else [None]):
            if not (
                isinstance(entry, dict)
                and "path" in entry
                and isinstance(entry.get("labels"), list)
            ):
                raise ValueError(
                    f"{listing}, entry {i}: expected {{'path': ..., 'labels': [...]}}, got {entry!r}"
                )
            out.append((entry["path"], [str(x) for x in entry["labels"]], f"{listing}, entry {i}"))
        return out
    raise ValueError(f"image listing must be a .csv or .json file, got {str(listing)!r}")


def folder_classes(path: str | os.PathLike) -> list[str] | None:
    """The class names a folder of class folders gives (sorted), ``None`` for a listing."""
    path = Path(path)
    if not path.is_dir():
        return None
    return sorted(p.name for p in path.iterdir() if p.is_dir()) or None


def data_task(path: str | os.PathLike) -> str:
    """The task images at ``path`` imply: a folder per class is single-label, a listing
    (which may give several labels per image) multi-label."""
    return "single-label" if folder_classes(path) else "multilabel"


def open_image_data(
    path: str | os.PathLike,
    image_size: int,
    normalization: Normalization,
    channels: int = 3,
    classes: list[str] | None = None,
    masks: str | os.PathLike | None = None,
    strict: bool = False,
) -> ImageFolderData | ImageListData:
    """A folder of class folders (:class:`ImageFolderData`) or a ``.csv``/``.json``
    listing (:class:`ImageListData`), by what ``path`` is; ``strict`` as theirs.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from PIL import Image
        >>> from captum_explainer.data import SYNTHETIC_NORMALIZATION
        >>> from captum_explainer.data.user_images import open_image_data
        >>> with tempfile.TemporaryDirectory() as root:
        ...     (Path(root) / "cat").mkdir()
        ...     Image.new("RGB", (8, 8)).save(Path(root) / "cat" / "a.png")
        ...     data = open_image_data(root, 16, SYNTHETIC_NORMALIZATION)
        >>> type(data).__name__, data.task
        ('ImageFolderData', 'single-label')
    """
    if Path(path).is_dir():
        return ImageFolderData(path, image_size, normalization, channels, classes, masks, strict)
    return ImageListData(path, image_size, normalization, channels, classes, masks, strict=strict)
