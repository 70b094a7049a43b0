"""Build classifiers by name; load classifier, Explainer and amortized-method checkpoints."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any

import torch
import torchvision
from torch import nn

from captum_explainer.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_state_dict_checked,
    read_state_dict,
    require_fields,
)
from captum_explainer.models.explainer_nets import EXPLAINERS, build_explainer
from captum_explainer.models.inference import to_channels_last
from captum_explainer.models.multilabel import resnet50_multilabel, vgg16_multilabel
from captum_explainer.models.small_cnn import SmallCNN
from captum_explainer.models.vit import vit_tiny

#: What a classifier checkpoint must hold to be rebuilt and used on the right inputs.
CLASSIFIER_FIELDS = ("arch", "num_classes", "state_dict", "classes", "image_size", "normalization")

#: Builder arguments of checkpoints written before ``arch_kwargs`` was stored (version < 0.3):
#: their SmallExplainer had the shared 1 x 1 head.
LEGACY_EXPLAINER_KWARGS: dict[str, dict[str, Any]] = {"small_explainer": {"class_head_channels": 0}}

#: Explainer architectures with optional presence logits (``presence=True``; off by default).
PRESENCE_ARCHS = ("resnet18_fpn", "resnet50_fpn")

CLASSIFIERS: dict[str, Callable[..., nn.Module]] = {
    "small_cnn": SmallCNN,
    "vgg16": vgg16_multilabel,
    "resnet50": resnet50_multilabel,
    "vit_tiny": vit_tiny,
}


#: ``arch`` names of the form ``torchvision:<name>`` build torchvision's architecture.
TORCHVISION_PREFIX = "torchvision:"


def build_classifier(
    arch: str, num_classes: int, image_size: int | None = None, **kwargs: Any
) -> nn.Module:
    """A fresh classifier of architecture ``arch``: one of :data:`CLASSIFIERS`, or
    ``torchvision:<name>`` for any torchvision classification model (random weights).
    ``image_size`` reaches the architectures whose weights depend on it (vision
    transformers: one position embedding per patch) and is ignored by the others.

    Example:
        >>> import torch
        >>> from captum_explainer.models import build_classifier
        >>> build_classifier("small_cnn", num_classes=8)(torch.rand(2, 3, 64, 64)).shape
        torch.Size([2, 8])
        >>> resnet = build_classifier("torchvision:resnet18", num_classes=10)  # random weights
        >>> resnet.fc.out_features
        10
    """
    if arch.startswith(TORCHVISION_PREFIX):
        name = arch[len(TORCHVISION_PREFIX) :]
        if name not in torchvision.models.list_models(module=torchvision.models):
            raise ValueError(
                f"arch {arch!r}: torchvision has no classification model {name!r}; see "
                f"torchvision.models.list_models()"
            )
        kwargs.pop("weights", None)
        if image_size is not None and name.startswith("vit_"):
            kwargs["image_size"] = image_size
        return torchvision.models.get_model(name, weights=None, num_classes=num_classes, **kwargs)
    if arch not in CLASSIFIERS:
        raise ValueError(
            f"arch must be one of {sorted(CLASSIFIERS)} or torchvision:<name>, got {arch!r}"
        )
    builder = CLASSIFIERS[arch]
    accepted = inspect.signature(builder).parameters
    if image_size is not None and "image_size" in accepted:
        kwargs["image_size"] = image_size
    if "weights" not in accepted and kwargs.get("weights", 1) is None:
        del kwargs["weights"]  # nothing to load, and this builder never loads any
    return builder(num_classes=num_classes, **kwargs)


def load_weights(network: nn.Module, path: str | os.PathLike) -> None:
    """Load a ``state_dict`` file (or a checkpoint dictionary holding one) into ``network``,
    with ``weights_only=True``; a clear error names the file and what is wrong."""
    load_state_dict_checked(network, read_state_dict(path, "--weights"), path)


def load_classifier(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a classifier saved by ``train-classifier`` and load its weights.

    Args:
        path: a classifier checkpoint (``best.pt`` or ``last.pt`` of a training run).
        map_location: device for the weights.

    Returns:
        ``(model, checkpoint)``: the model in ``eval()`` mode and the stored dictionary
        (``arch``, ``num_classes``, ``classes``, ``image_size``, ``normalization``, ...).

    Example:
        >>> from captum_explainer.models import load_classifier
        >>> from captum_explainer.models.pretrained import SYNTHETIC_CLASSIFIER
        >>> model, checkpoint = load_classifier(SYNTHETIC_CLASSIFIER)  # the shipped checkpoint
        >>> checkpoint["arch"], checkpoint["num_classes"], model.training
        ('small_cnn', 8, False)
    """
    checkpoint = load_checkpoint(path, kind="classifier", map_location=map_location)
    require_fields(checkpoint, CLASSIFIER_FIELDS, path)
    if len(checkpoint["classes"]) != int(checkpoint["num_classes"]):
        raise CheckpointError(
            f"checkpoint {str(path)!r} names {len(checkpoint['classes'])} classes for a head of "
            f"{checkpoint['num_classes']}"
        )
    stats = checkpoint["normalization"]
    if not (isinstance(stats, dict) and "mean" in stats and "std" in stats):
        raise CheckpointError(
            f"checkpoint {str(path)!r}: its normalization must hold 'mean' and 'std', got {stats!r}"
        )
    arch = checkpoint.get("arch")
    if not isinstance(arch, str) or not (
        arch in CLASSIFIERS or arch.startswith(TORCHVISION_PREFIX)
    ):
        raise CheckpointError(f"checkpoint {str(path)!r} names an unknown architecture {arch!r}")
    # Backbone weights come from the checkpoint itself, so the builder gets weights=None.
    size = checkpoint["image_size"]  # [H, W] (an int in hand-written checkpoints)
    side = int(size[-1] if isinstance(size, (list, tuple)) else size)
    model = build_classifier(arch, int(checkpoint["num_classes"]), side, weights=None)
    load_state_dict_checked(model, checkpoint["state_dict"], path)
    return model.eval(), checkpoint


def load_explainer(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild an Explainer saved by ``train-explainer`` and load its weights.

    Returns:
        ``(explainer, checkpoint)``, the network in ``eval()`` mode, its weights stored
        channels-last (faster on the CPU; see ``captum_explainer.models.inference``).

    Example:
        >>> from captum_explainer.models import load_explainer
        >>> from captum_explainer.models.pretrained import SYNTHETIC_EXPLAINER
        >>> explainer, checkpoint = load_explainer(SYNTHETIC_EXPLAINER)  # the shipped checkpoint
        >>> checkpoint["arch"], explainer.training
        ('small_explainer', False)
    """
    return _load_map_network(path, "explainer", map_location)


def load_amortized(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild an amortized method's network saved by ``train-amortized`` and load its weights.

    Returns:
        ``(network, checkpoint)``, the network in ``eval()`` mode (weights channels-last,
        as :func:`load_explainer`); ``checkpoint["teacher"]``
        names the method it imitates and ``checkpoint["teacher_kwargs"]`` its settings.

    Example:
        >>> from captum_explainer.models import load_amortized
        >>> from captum_explainer.models.pretrained import SYNTHETIC_AMORTIZED_RISE
        >>> network, checkpoint = load_amortized(SYNTHETIC_AMORTIZED_RISE)  # shipped
        >>> checkpoint["teacher"], network.training
        ('RISE', False)
    """
    network, checkpoint = _load_map_network(path, "amortized", map_location)
    require_fields(checkpoint, ("teacher",), path)
    return network, checkpoint


def _load_map_network(
    path: str | os.PathLike, kind: str, map_location: str | torch.device
) -> tuple[nn.Module, dict[str, Any]]:
    """A network of :data:`EXPLAINERS` (a map per class) from a checkpoint of ``kind``."""
    checkpoint = load_checkpoint(path, kind=kind, map_location=map_location)
    require_fields(checkpoint, ("arch", "num_classes", "state_dict"), path)
    arch = checkpoint.get("arch")
    if arch not in EXPLAINERS:
        raise CheckpointError(
            f"checkpoint {str(path)!r} names an unknown network architecture {arch!r}"
        )
    kwargs = checkpoint.get("arch_kwargs", LEGACY_EXPLAINER_KWARGS.get(arch, {}))
    if not isinstance(kwargs, dict):
        raise CheckpointError(
            f"checkpoint {str(path)!r}: arch_kwargs must be a dict, got {kwargs!r}"
        )
    network = build_explainer(arch, int(checkpoint["num_classes"]), **kwargs)
    load_state_dict_checked(network, checkpoint["state_dict"], path)
    return to_channels_last(network).eval(), checkpoint
