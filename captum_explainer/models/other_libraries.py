"""Classifiers from timm and Hugging Face ``transformers``, built the way ``--model`` names them.

- ``timm:<name>``: ``timm.create_model(name, pretrained=False, num_classes=K, **kwargs)``, the
  image size passed on as ``img_size`` where the architecture takes one (ViTs; ConvNets take
  any size); weights from a ``state_dict`` file, or none.
- ``hf:<folder>``: ``AutoModelForImageClassification.from_pretrained(folder)`` on a local
  folder (nothing is downloaded), wrapped by :func:`~captum_explainer.models.adapters.logits_of`;
  its class names, image size and normalisation come from the folder's ``config.json`` and
  ``preprocessor_config.json``.

Both libraries are optional (the ``timm`` and ``hf`` extras); a missing one gets one line
naming the extra.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from torch import nn

from captum_explainer.models.adapters import logits_of

TIMM_PREFIX = "timm:"
HF_PREFIX = "hf:"


def _optional(module: str, extra: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ValueError(
            f"{module} is not installed: pip install 'captum-explainer[{extra}]' ({error})"
        ) from None


def build_timm(
    name: str,
    num_classes: int,
    image_size: int | None = None,
    kwargs: dict[str, Any] | None = None,
) -> nn.Module:
    """A randomly initialised timm classifier ``name`` with ``num_classes`` outputs.

    ``image_size`` is passed on as ``img_size`` where the architecture takes it (a ViT's
    position embeddings depend on it); ``kwargs`` go to ``timm.create_model`` as they are.
    """
    timm = _optional("timm", "timm")
    if not timm.is_model(name):
        raise ValueError(f"timm has no model {name!r} (timm.list_models() lists them)")
    options = {"pretrained": False, "num_classes": num_classes, **(kwargs or {})}
    if image_size is not None and "img_size" not in options:
        try:
            return timm.create_model(name, img_size=image_size, **options)
        except TypeError as error:
            if "img_size" not in str(error):
                raise
            # ConvNets take no img_size: they run on any image size.
    return timm.create_model(name, **options)


def load_hugging_face(
    folder: str | os.PathLike, num_classes: int | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """A Hugging Face image classifier saved in ``folder`` (``save_pretrained``), read
    offline, wrapped to return its logits; and what its files describe (classes, image size,
    normalisation), in the form of a package checkpoint's metadata.

    ``num_classes``, where given, must equal the model's ``num_labels``.
    """
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise ValueError(f"--model hf:{folder}: no config.json in that folder (save_pretrained)")
    transformers = _optional("transformers", "hf")
    model = transformers.AutoModelForImageClassification.from_pretrained(
        folder, local_files_only=True
    )
    config = model.config
    if num_classes is not None and num_classes != config.num_labels:
        raise ValueError(
            f"--num-classes {num_classes} but hf:{folder} has {config.num_labels} labels"
        )
    labels = getattr(config, "id2label", None) or {}
    stored: dict[str, Any] = {"classes": [labels[i] for i in sorted(labels)]} if labels else {}
    size = getattr(config, "image_size", None)
    if isinstance(size, int):
        stored["image_size"] = [size, size]
    processor = folder / "preprocessor_config.json"
    if processor.is_file():
        settings = json.loads(processor.read_text())
        if "image_mean" in settings and "image_std" in settings:
            stored["normalization"] = {"mean": settings["image_mean"], "std": settings["image_std"]}
    return logits_of(model.eval()), stored
