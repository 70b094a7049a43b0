"""A user's own classifier, named on the command line, and what it needs described.

``--model`` takes three forms (:func:`load_model`):

- ``torchvision:<name>``: a torchvision classification architecture (``resnet18``,
  ``vit_b_16``, ...) built with ``num_classes`` outputs, its weights from ``--weights``
  (a ``state_dict`` file, loaded with ``weights_only=True``);
- ``<module>:<callable>``: any importable callable returning an ``nn.Module``
  (``my_pkg.models:build``), called with ``model_kwargs``, weights optional;
- ``timm:<name>`` and ``hf:<folder>``: see :mod:`~captum_explainer.models.other_libraries`;
- a checkpoint written by ``captum-explainer train-classifier`` (its description inside).

What the rest of the package needs to know of a classifier is a :class:`ClassifierInfo`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from captum_explainer.data.types import IMAGENET_NORMALIZATION, Normalization
from captum_explainer.models.loading import (
    TORCHVISION_PREFIX,
    build_classifier,
    load_classifier,
    load_weights,
)
from captum_explainer.models.other_libraries import (
    HF_PREFIX,
    TIMM_PREFIX,
    build_timm,
    load_hugging_face,
)
from captum_explainer.scores import TASK_SCORES


@dataclass(frozen=True)
class ClassifierInfo:
    """What a classifier expects and gives.

    Args:
        classes: class names, in the order of the logits.
        task: ``"multilabel"`` (sigmoid scores, BCE) or ``"single-label"`` (softmax, CE).
        normalization: its input normalisation (one mean and std per channel).
        image_size: the side images are resized to.
    """

    classes: tuple[str, ...]
    task: str
    normalization: Normalization
    image_size: int

    def __post_init__(self) -> None:
        if self.task not in TASK_SCORES:
            raise ValueError(f"task must be one of {sorted(TASK_SCORES)}, got {self.task!r}")
        if not self.classes:
            raise ValueError("classes must name at least one class")
        if not isinstance(self.image_size, int) or self.image_size < 1:
            raise ValueError(f"image_size must be a positive integer, got {self.image_size!r}")

    @property
    def channels(self) -> int:
        return len(self.normalization.mean)

    def as_meta(self) -> dict[str, Any]:
        """The description in the form a package checkpoint stores it."""
        return {
            "classes": list(self.classes),
            "task": self.task,
            "image_size": [self.image_size, self.image_size],
            "normalization": {
                "mean": list(self.normalization.mean),
                "std": list(self.normalization.std),
            },
        }


def default_normalization(channels: int) -> Normalization:
    """ImageNet's statistics for RGB models (torchvision's); grayscale needs them given."""
    if channels == 3:
        return IMAGENET_NORMALIZATION
    raise ValueError(
        f"a {channels}-channel classifier needs its normalisation: give --mean and --std "
        f"(one value per channel), e.g. --mean 0.5 --std 0.5"
    )


def load_model(
    model: str,
    weights: str | os.PathLike | None = None,
    num_classes: int | None = None,
    image_size: int | None = None,
    model_kwargs: dict[str, Any] | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """A classifier from one of ``--model``'s forms (see the module's docstring).

    ``model_kwargs`` go to an import path's callable or to ``timm.create_model``;
    ``image_size`` to a timm ViT.

    Returns:
        ``(model in eval() mode, what its checkpoint describes)``: the description is empty
        except for the package's own checkpoints (classes, image size, normalisation, task).
    """
    if model.startswith(TORCHVISION_PREFIX):
        if num_classes is None:
            raise ValueError(f"--model {model!r} needs --num-classes (the size of its head)")
        try:
            network = build_classifier(model, num_classes)
        except ValueError as error:
            raise ValueError(f"--model {error}") from None
        if weights is None:
            raise ValueError(
                f"--model {model!r} needs --weights, the state_dict file of the trained model"
            )
        load_weights(network, weights)
        return network.eval(), {}
    if model.startswith(TIMM_PREFIX):
        if num_classes is None:
            raise ValueError(f"--model {model!r} needs --num-classes (the size of its head)")
        network = build_timm(model[len(TIMM_PREFIX) :], num_classes, image_size, model_kwargs)
        if weights is not None:
            load_weights(network, weights)
        return network.eval(), {}
    if model.startswith(HF_PREFIX):
        if weights is not None:
            raise ValueError("--weights does not go with hf:<folder>: the folder holds them")
        return load_hugging_face(model[len(HF_PREFIX) :], num_classes)
    if ":" in model and not Path(model).exists():
        module_name, _, attribute = model.partition(":")
        try:
            builder = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as error:
            raise ValueError(
                f"--model {model!r}: cannot import {attribute!r} from {module_name!r} ({error})"
            ) from error
        network = builder(**(model_kwargs or {}))
        if not isinstance(network, nn.Module):
            raise ValueError(
                f"--model {model!r} returned a {type(network).__name__}, not an nn.Module"
            )
        if weights is not None:
            load_weights(network, weights)
        return network.eval(), {}
    if weights is not None:
        raise ValueError(
            "--weights goes with --model torchvision:<name>, timm:<name> or <module>:<callable>"
        )
    if model_kwargs:
        raise ValueError("--model-kwargs go with --model timm:<name> or <module>:<callable>")
    return load_classifier(model)


def check_channels(classifier: nn.Module, image: torch.Tensor, data: str = "the data") -> None:
    """Check one image ``(C, H, W)`` of ``data`` against the classifier's first convolution
    before any work starts (training, evaluation, explaining): images with the wrong number
    of channels get one line naming the data, the channels found and the channels it takes,
    instead of PyTorch's convolution error from deep inside a method."""
    first = next((m for m in classifier.modules() if isinstance(m, nn.Conv2d)), None)
    expected = first.in_channels if first is not None else None
    if expected is not None and image.shape[0] != expected:
        raise ValueError(
            f"{data} has {image.shape[0]}-channel images but the classifier takes {expected} "
            f"channels (its first convolution); give images with {expected} channels "
            f"(e.g. channels={expected} when reading files, or a matching normalisation)"
        )


@dataclass(frozen=True)
class OwnClassifier:
    """A user's classifier as the command line names it (``--model``, ``--weights``, ...)
    and what the options say of it; :meth:`load` builds it, :meth:`describe` completes
    the description."""

    model: str
    weights: str | os.PathLike | None = None
    num_classes: int | None = None
    classes: Sequence[str] | None = None
    task: str | None = None
    mean: Sequence[float] | None = None
    std: Sequence[float] | None = None
    image_size: int | None = None
    channels: int | None = None
    #: Keyword arguments of an import path's callable or of ``timm.create_model``.
    model_kwargs: dict[str, Any] | None = field(default=None, compare=False)

    def load(
        self, data_classes: list[str] | None = None, data_task: str | None = None
    ) -> tuple[nn.Module, ClassifierInfo]:
        """The model (``eval()`` mode) and its description (see :func:`describe`)."""
        network, stored = load_model(
            self.model, self.weights, self.num_classes, self.image_size, self.model_kwargs
        )
        return network, self.describe(stored, data_classes, data_task)

    def describe(
        self,
        stored: dict[str, Any],
        data_classes: list[str] | None = None,
        data_task: str | None = None,
    ) -> ClassifierInfo:
        """The classifier's :class:`ClassifierInfo`: these options first, then what its
        checkpoint ``stored``, then what the data says (class names, task), then defaults
        (image size 224, 3 channels with ImageNet statistics). A clear error names what is
        missing."""
        names = self.classes or stored.get("classes") or data_classes
        if not names:
            raise ValueError(
                "the classifier's classes are not known: give --classes or data with class names"
            )
        mean, std, channels = self.mean, self.std, self.channels
        if (mean is None) != (std is None):
            raise ValueError("--mean and --std go together (one value per channel each)")
        if mean is not None:
            if len(mean) != len(std):
                raise ValueError(f"--mean has {len(mean)} values but --std {len(std)}")
            normalization = Normalization(tuple(mean), tuple(std))
        elif "normalization" in stored:
            normalization = Normalization(
                tuple(stored["normalization"]["mean"]), tuple(stored["normalization"]["std"])
            )
        else:
            normalization = default_normalization(channels or 3)
        if channels is not None and channels != len(normalization.mean):
            raise ValueError(
                f"--channels {channels} but the normalisation has {len(normalization.mean)} values"
            )
        size = self.image_size or (stored.get("image_size") or [224])[0]
        return ClassifierInfo(
            tuple(names),
            self.task or stored.get("task") or data_task or "multilabel",
            normalization,
            int(size),
        )
