"""Atomic checkpoint writing and safe, clearly failing checkpoint loading.

Checkpoints are written with :func:`~captum_explainer.output_files.atomic_write` (a temporary name,
then a rename), so an interrupted run never leaves a half-written checkpoint behind. Every
checkpoint is read with ``torch.load(weights_only=True)``: no pickled code runs.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from pickle import UnpicklingError
from typing import Any

import torch
from torch import nn

from captum_explainer.machine import check_device
from captum_explainer.output_files import atomic_write

#: Marks a file as one of ours, so a foreign ``.pt`` file gets a clear error.
FORMAT_TAG = "captum-explainer"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, of the wrong kind or does not fit the model."""


def save_checkpoint(payload: Mapping[str, Any], path: str | os.PathLike, kind: str) -> Path:
    """Write ``payload`` (tensors, numbers, strings, lists, dicts) atomically to ``path``.

    Args:
        payload: what to store; a ``"state_dict"`` entry is expected for model checkpoints.
        path: destination file.
        kind: what the checkpoint holds (``"classifier"``, ``"explainer"``, ...); checked on load.

    Returns:
        The path written.
    """
    data = dict(payload, format=FORMAT_TAG, kind=kind)
    return atomic_write(path, lambda tmp: torch.save(data, tmp))


def load_checkpoint(
    path: str | os.PathLike, kind: str | None = None, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`, safely.

    Args:
        path: the file.
        kind: if given, the kind the checkpoint must hold.
        map_location: where tensors are loaded.

    Returns:
        The stored dictionary.

    Raises:
        CheckpointError: the file is missing, truncated or corrupt, not one of this
            package's checkpoints, or of another kind. The message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    if isinstance(map_location, (str, torch.device)):
        # A device that is not there would surface as an unreadable checkpoint.
        check_device(map_location, "device")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, UnpicklingError, EOFError, zipfile.BadZipFile, ValueError) as error:
        raise CheckpointError(
            f"checkpoint {str(path)!r} cannot be read (truncated, corrupt or not a torch "
            f"file): {error}"
        ) from error
    if not isinstance(data, dict) or data.get("format") != FORMAT_TAG:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is not a captum-explainer checkpoint (no "
            f"format={FORMAT_TAG!r} entry); use the builders' weights= argument for "
            f"torchvision weight files"
        )
    if kind is not None and data.get("kind") != kind:
        raise CheckpointError(
            f"checkpoint {str(path)!r} holds a {data.get('kind')!r}, expected a {kind!r}"
        )
    return data


def read_state_dict(path: str | os.PathLike, what: str) -> dict[str, torch.Tensor]:
    """The ``state_dict`` in a weights file: a plain one, or a checkpoint dictionary holding
    one under ``"state_dict"`` (this package's, or a training script's), read with
    ``weights_only=True``.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file cannot be read or holds no ``state_dict``; the message
            starts with ``what`` (e.g. ``"--weights"``) and names the file.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"{what} {os.fspath(path)!r} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many kinds for an unreadable file
        raise CheckpointError(
            f"{what} {os.fspath(path)!r} cannot be read as a state_dict file: {error}"
        ) from error
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise CheckpointError(
            f"{what} {os.fspath(path)!r} holds a {type(state).__name__}, not a state_dict"
        )
    return state


def require_fields(
    data: Mapping[str, Any], fields: tuple[str, ...], path: str | os.PathLike
) -> None:
    """A ``CheckpointError`` naming the file and the first of ``fields`` it lacks."""
    missing = [f for f in fields if f not in data]
    if missing:
        raise CheckpointError(
            f"checkpoint {str(path)!r} lacks the field {missing[0]!r} (it has {sorted(data)})"
        )


def load_state_dict_checked(
    module: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str | os.PathLike
) -> None:
    """``module.load_state_dict(strict=True)`` with one clear message on any mismatch."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    mismatched = [
        f"{name}: file {tuple(state_dict[name].shape)} vs model {tuple(own[name].shape)}"
        for name in sorted(set(own) & set(state_dict))
        if tuple(own[name].shape) != tuple(state_dict[name].shape)
    ]
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f"missing keys {_first(missing)}")
        if unexpected:
            parts.append(f"unexpected keys {_first(unexpected)}")
        if mismatched:
            parts.append(f"shape mismatches {_first(mismatched)}")
        raise CheckpointError(
            f"weights in {str(source)!r} do not fit {type(module).__name__}: " + "; ".join(parts)
        )
    module.load_state_dict(state_dict, strict=True)


def _first(items: list[str], n: int = 5) -> str:
    shown = ", ".join(items[:n])
    return shown + (f" (+{len(items) - n} more)" if len(items) > n else "")
