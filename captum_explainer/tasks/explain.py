"""Explain image files: what ``captum-explainer explain`` does, callable from Python."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from captum_explainer.data._transforms import image_file_to_tensor
from captum_explainer.data.types import Normalization
from captum_explainer.data.user_images import IMAGE_SUFFIXES, image_files
from captum_explainer.evaluation.registry import Models, method_record
from captum_explainer.machine import check_device
from captum_explainer.maps import to_pixel_map
from captum_explainer.models.user import check_channels
from captum_explainer.output_files import atomic_write, check_output_folder
from captum_explainer.report.figures import visualize_attribution
from captum_explainer.scores import score_for_task


def load_images(
    paths: Sequence[str | os.PathLike], size: int, normalization: Normalization
) -> torch.Tensor:
    """Read, resize and normalise image files into ``(N, C, size, size)`` (``C`` the
    normalisation's channels: 1 reads grayscale); every file is checked before any work starts."""
    for path in paths:
        _check_file(Path(path))
    return torch.stack(
        [
            image_file_to_tensor(Path(p), size, normalization, len(normalization.mean))[0]
            for p in paths
        ]
    )


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise ValueError(
            f"image {str(path)!r} is a folder; explain_files and `captum-explainer explain` "
            f"walk folders (recursive=True / --recursive for subfolders)"
        )
    if path.is_symlink() and not path.exists():
        raise FileNotFoundError(
            f"image {str(path)!r} is a link to {os.readlink(path)!r}, which does not exist"
        )
    if not path.is_file():
        raise FileNotFoundError(f"image {str(path)!r} does not exist")


def list_images(
    paths: Sequence[str | os.PathLike],
    recursive: bool = False,
    skipped: Callable[[str], None] | None = None,
) -> list[tuple[Path, Path]]:
    """The image files named or found in folders, each with the path its outputs take under
    the output folder (without suffix): a named file its stem; a folder's images their path
    inside the folder, so the outputs mirror the folder's layout.

    Folders are listed in sorted order (``recursive``: subfolders too; links to folders are
    not followed, so a link loop cannot trap the walk); files whose suffix is not one of
    :data:`~captum_explainer.data.user_images.IMAGE_SUFFIXES` are skipped, each reported by
    ``skipped(line)``. A named path that does not exist is an error naming it, before any
    work; a link inside a folder that points nowhere is kept, to be reported as unreadable.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from PIL import Image
        >>> from captum_explainer.tasks.explain import list_images
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     (Path(folder) / "cats").mkdir()
        ...     for name in ("b.png", "a.jpg", "cats/c.png"):
        ...         Image.new("RGB", (8, 8)).save(Path(folder) / name)
        ...     _ = (Path(folder) / "notes.txt").write_text("not an image")
        ...     found = list_images([folder], recursive=True, skipped=print)
        ...     [str(out) for _, out in found]  # where each one's maps go, mirroring the folder
        skipping '.../notes.txt': not an image (.txt)
        ['a', 'b', 'cats/c']
    """
    found: list[tuple[Path, Path]] = []
    for given in map(Path, paths):
        if not given.is_dir():
            _check_file(given)
            found.append((given, Path(given.stem)))
            continue
        for path in image_files(given, recursive, skipped):
            found.append((path, path.relative_to(given).with_suffix("")))
    return _unique(found)


def _unique(found: list[tuple[Path, Path]]) -> list[tuple[Path, Path]]:
    """Outputs that would share a path become ``NAME-1``, ``NAME-2``, ... in the order given."""
    names = [str(out) for _, out in found]
    seen: dict[str, int] = {}
    unique = []
    for (path, out), name in zip(found, names):
        if names.count(name) == 1:
            unique.append((path, out))
            continue
        seen[name] = seen.get(name, 0) + 1
        unique.append((path, out.with_name(f"{out.name}-{seen[name]}")))
    return unique


def resolve_class(target: str | None, classes: Sequence[str], logits: torch.Tensor) -> torch.Tensor:
    """The class index per image: a name or index given by the user, else the top-1 prediction."""
    if target is None:
        return logits.argmax(1)
    if target.isdigit() and int(target) < len(classes):
        return torch.full((logits.shape[0],), int(target), dtype=torch.long)
    if target not in classes:
        raise ValueError(f"unknown class {target!r}; the classifier's classes are {list(classes)}")
    return torch.full((logits.shape[0],), list(classes).index(target), dtype=torch.long)


def explain_files(
    paths: Sequence[str | os.PathLike],
    classifier: nn.Module,
    explainer: nn.Module | None,
    meta: dict[str, Any],
    method: str,
    target: str | None,
    out: str | os.PathLike,
    seed: int = 0,
    device: str = "cpu",
    recursive: bool = False,
    batch_size: int = 16,
    skipped: Callable[[str], None] | None = None,
    amortized: nn.Module | None = None,
    strict: bool = False,
    unreadable: Callable[[Path, str], None] | None = None,
    networks: Mapping[str, nn.Module] | None = None,
) -> list[Path]:
    """Explain each image for ``target`` with ``method``; write ``NAME_METHOD_CLASS.npy``
    (the ``(H, W)`` map) and ``.png`` (its overlay) into ``out``.

    Args:
        paths: image files and folders (see :func:`list_images`: a folder's outputs mirror
            its layout; files that are not images are skipped, each reported by ``skipped``).
        classifier: the model; meta: its checkpoint's metadata (classes, image size,
            normalisation); explainer: needed for ``method="explainer"``.
        method: a method's record key (:func:`~captum_explainer.evaluation.registry.method_keys`).
        target: class name or index; ``None`` explains each image's top-1 prediction.
        recursive: walk subfolders too.
        batch_size: images explained together (every image is resized to the classifier's
            side, so any images batch together).
        amortized: the amortized RISE network, for ``method="amortized-rise"``
            (shorthand for ``networks["amortized-rise"]``, as ``explainer`` is for
            ``networks["explainer"]``).
        strict: stop at the first image that cannot be read (a ``ValueError`` naming it)
            instead of explaining the others.
        unreadable: with ``strict=False``, called with each unreadable image and why
            (default: a warning each); those images are left out.
        networks: the methods' own trained networks by key (the method's record names
            the key it needs).

    Returns:
        The files written. Named files that do not exist, an unknown ``target`` and a
        ``device`` this machine does not have are refused before anything is written; so
        is a search that finds no image, and a run where no image can be read.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from PIL import Image
        >>> from captum_explainer.models import load_classifier
        >>> from captum_explainer.models.pretrained import SYNTHETIC_CLASSIFIER
        >>> from captum_explainer.tasks.explain import explain_files
        >>> classifier, meta = load_classifier(SYNTHETIC_CLASSIFIER)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     Image.new("RGB", (64, 64), "red").save(Path(folder) / "photo.png")
        ...     written = explain_files(
        ...         [folder], classifier, None, meta, "gradcam", "circle", Path(folder) / "maps"
        ...     )
        ...     sorted(path.name for path in written)
        ['photo_gradcam_circle.npy', 'photo_gradcam_circle.png']
    """
    check_output_folder(out)
    device = check_device(device)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    normalization = Normalization(
        tuple(meta["normalization"]["mean"]), tuple(meta["normalization"]["std"])
    )
    classes = list(meta["classes"])
    if target is not None:
        resolve_class(target, classes, torch.zeros(1, len(classes)))
    items = list_images(paths, recursive, skipped)
    if not items:
        where = ", ".join(repr(str(p)) for p in paths)
        raise ValueError(
            f"found no image in {where}: image files end in {', '.join(IMAGE_SUFFIXES)}"
            + ("" if recursive else " (recursive=True / --recursive walks subfolders)")
        )
    report = unreadable or _warn_unreadable
    score = score_for_task(meta.get("task", "multilabel"))
    record = method_record(method)
    models = Models(
        classifier, explainer, normalization, score, amortized=amortized, networks=networks
    )
    spec = record.spec(models, "demo", seed)
    written: list[Path] = []
    size, failed, checked = int(meta["image_size"][0]), [], False
    for start in range(0, len(items), batch_size):
        batch, tensors = [], []
        for path, name in items[start : start + batch_size]:
            try:
                tensors.append(load_images([path], size, normalization)[0])
            except (ValueError, OSError) as error:
                if strict:
                    raise
                report(path, str(error))
                failed.append(str(error))
                continue
            batch.append((path, name))
        if not batch:
            continue
        images = torch.stack(tensors).to(device)
        if not checked:
            check_channels(classifier, images[0], f"image {str(batch[0][0])!r}")
            checked = True
        with torch.no_grad():
            logits = classifier(images)
        targets = resolve_class(target, classes, logits).to(device)
        maps = spec.attribution.attribute(images, target=targets, **spec.kwargs)
        maps = to_pixel_map(maps.detach(), spec.reduction)
        for (_, name), image, pixel_map, k in zip(batch, images, maps, targets.tolist()):
            written += _write_map(
                Path(out), name, method, record.name, classes[k], image, pixel_map, normalization
            )
    if len(failed) == len(items):
        raise ValueError(
            f"none of the {len(items)} images could be read, nothing was written (the first: "
            f"{failed[0]})"
        )
    return written


def _warn_unreadable(path: Path, why: str) -> None:
    warnings.warn(f"skipped {str(path)!r}: {why}", UserWarning, stacklevel=3)


def _write_map(
    out: Path,
    name: Path,
    method: str,
    display: str,
    label: str,
    image: torch.Tensor,
    pixel_map: torch.Tensor,
    normalization: Normalization,
) -> list[Path]:
    stem = out / name.parent / f"{name.name}_{method}_{label}"
    array = pixel_map[0].cpu().numpy()
    npy = atomic_write(stem.with_name(stem.name + ".npy"), lambda tmp: _save_npy(tmp, array))
    figure, _ = visualize_attribution(
        pixel_map,
        image,
        normalization,
        method="blended_heat_map",
        sign="absolute_value",
        cmap="jet",
        alpha_overlay=0.5,
        title=f"{display}: {label}",
    )
    png = atomic_write(
        stem.with_name(stem.name + ".png"), lambda tmp: figure.savefig(tmp, format="png")
    )
    return [npy, png]


def _save_npy(path: str, array: np.ndarray) -> None:
    # np.save appends ".npy" to a bare path; through a file object the name stays as given.
    with open(path, "wb") as f:
        np.save(f, array)
