"""Explain image files: what ``captum-explainer explain`` does, callable from Python."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from captum_explainer.data._transforms import image_file_to_tensor
from captum_explainer.data.types import Normalization
from captum_explainer.evaluation.catalogue import Models, method_record
from captum_explainer.files import atomic_write, check_output_folder
from captum_explainer.maps import to_pixel_map
from captum_explainer.report.figures import visualize_attribution
from captum_explainer.scores import score_for_task


def load_images(
    paths: Sequence[str | os.PathLike], size: int, normalization: Normalization
) -> torch.Tensor:
    """Read, resize and normalise image files into ``(N, C, size, size)`` (``C`` the
    normalisation's channels: 1 reads grayscale); every file is checked before any work starts."""
    tensors = []
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"image {str(path)!r} does not exist")
        tensors.append(image_file_to_tensor(path, size, normalization, len(normalization.mean))[0])
    return torch.stack(tensors)


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
) -> list[Path]:
    """Explain each image for ``target`` with ``method``; write ``STEM_METHOD_CLASS.npy``
    (the ``(H, W)`` map) and ``.png`` (its overlay) into ``out`` (files that share a stem
    become ``STEM-1``, ``STEM-2``, ... in the order given).

    Args:
        paths: image files.
        classifier: the model; meta: its checkpoint's metadata (classes, image size,
            normalisation); explainer: needed for ``method="explainer"``.
        method: a method's record key (:func:`~captum_explainer.evaluation.catalogue.method_keys`).
        target: class name or index; ``None`` explains each image's top-1 prediction.

    Returns:
        The files written. All maps are computed before the first file is written.
    """
    check_output_folder(out)
    normalization = Normalization(
        tuple(meta["normalization"]["mean"]), tuple(meta["normalization"]["std"])
    )
    classes = list(meta["classes"])
    images = load_images(paths, int(meta["image_size"][0]), normalization).to(device)
    with torch.no_grad():
        logits = classifier(images)
    targets = resolve_class(target, classes, logits).to(device)
    score = score_for_task(meta.get("task", "multilabel"))
    record = method_record(method)
    spec = record.spec(Models(classifier, explainer, normalization, score), "demo", seed)
    maps = spec.attribution.attribute(images, target=targets, **spec.kwargs)
    maps = to_pixel_map(maps.detach(), spec.reduction)
    out = Path(out)
    written = []
    names = _unique_stems(paths)
    for name, image, pixel_map, k in zip(names, images, maps, targets.tolist()):
        stem = f"{name}_{method}_{classes[k]}"
        array = pixel_map[0].cpu().numpy()
        written.append(atomic_write(out / f"{stem}.npy", lambda tmp, a=array: _save_npy(tmp, a)))
        figure, axis = visualize_attribution(
            pixel_map,
            image,
            normalization,
            method="blended_heat_map",
            sign="absolute_value",
            cmap="jet",
            alpha_overlay=0.5,
            title=f"{record.name}: {classes[k]}",
        )
        written.append(
            atomic_write(out / f"{stem}.png", lambda tmp, f=figure: f.savefig(tmp, format="png"))
        )
    return written


def _unique_stems(paths: Sequence[str | os.PathLike]) -> list[str]:
    """Each file's stem; where several files share one, ``stem-1``, ``stem-2``, ... in the
    order given, so that no output overwrites another."""
    stems = [Path(p).stem for p in paths]
    seen: dict[str, int] = {}
    names = []
    for stem in stems:
        if stems.count(stem) == 1:
            names.append(stem)
            continue
        seen[stem] = seen.get(stem, 0) + 1
        names.append(f"{stem}-{seen[stem]}")
    return names


def _save_npy(path: str, array: np.ndarray) -> None:
    # np.save appends ".npy" to a bare path; through a file object the name stays as given.
    with open(path, "wb") as f:
        np.save(f, array)
