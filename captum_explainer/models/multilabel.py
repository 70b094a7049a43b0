"""VGG-16 and ResNet-50 with frozen torchvision features and a new multi-label head.

These are the classifiers of the Explainer paper: ImageNet features kept frozen, a new
head trained with BCE for the ``K`` classes of PASCAL VOC (20) or MS COCO (80).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torchvision
from torch import nn
from torchvision.models import ResNet50_Weights, VGG16_Weights, WeightsEnum

from captum_explainer.checkpoint import load_state_dict_checked, read_state_dict

#: ``None``, a torchvision weights enum (or its name, e.g. ``"IMAGENET1K_V1"``), or the
#: path of a local file holding the torchvision model's ImageNet ``state_dict``.
BackboneWeights = WeightsEnum | str | os.PathLike | None


def resolve_weights(
    weights: BackboneWeights, enum_type: type[WeightsEnum]
) -> tuple[WeightsEnum | None, str | None]:
    """Split ``weights`` into (torchvision enum, local file path); at most one is set."""
    if weights is None or isinstance(weights, WeightsEnum):
        return weights, None
    text = os.fspath(weights)
    if os.path.exists(text):
        return None, text
    if text in enum_type.__members__ or text == "DEFAULT":
        return enum_type[text] if text != "DEFAULT" else enum_type.DEFAULT, None
    raise ValueError(
        f"weights must be None, a {enum_type.__name__} member "
        f"({', '.join(enum_type.__members__)}), or an existing file; got {text!r}"
    )


def load_backbone_file(model: nn.Module, path: str) -> None:
    load_state_dict_checked(model, read_state_dict(path, "backbone weights"), path)


def _build_backbone(
    factory: Callable[..., nn.Module], enum_type: type[WeightsEnum], weights: BackboneWeights
) -> nn.Module:
    enum, path = resolve_weights(weights, enum_type)
    model = factory(weights=enum)
    if path is not None:
        load_backbone_file(model, path)
    return model


def vgg16_multilabel(
    num_classes: int = 20, weights: BackboneWeights = None, freeze_features: bool = True
) -> nn.Module:
    """torchvision's VGG-16 with its last layer replaced by a ``num_classes`` multi-label head.

    Args:
        num_classes: number of output logits.
        weights: ImageNet weights for the backbone (see :data:`BackboneWeights`);
            ``None`` gives random weights (what the tests use: nothing is downloaded).
        freeze_features: if True, the convolutional ``features`` get ``requires_grad=False``.

    Returns:
        The model; input ``(N, 3, 224, 224)`` ImageNet-normalised, output logits ``(N, K)``.
        Grad-CAM's usual layer is ``model.features[29]`` (the last ReLU), also ``model.target_layer``.

    Example:
        >>> import torch
        >>> from captum_explainer.models import vgg16_multilabel
        >>> model = vgg16_multilabel(num_classes=20).eval()  # random weights, no download
        >>> model(torch.rand(1, 3, 64, 64)).shape
        torch.Size([1, 20])
    """
    model = _build_backbone(torchvision.models.vgg16, VGG16_Weights, weights)
    model.classifier[-1] = nn.Linear(model.classifier[-1].in_features, num_classes)
    if freeze_features:
        model.features.requires_grad_(False)
    model.num_classes = num_classes
    model.target_layer = model.features[29]
    return model


def resnet50_multilabel(
    num_classes: int = 20, weights: BackboneWeights = None, freeze_features: bool = True
) -> nn.Module:
    """torchvision's ResNet-50 with ``fc`` replaced by a ``num_classes`` multi-label head.

    Args:
        num_classes: number of output logits.
        weights: ImageNet weights for the backbone (see :data:`BackboneWeights`).
        freeze_features: if True, every layer but the new ``fc`` is frozen.

    Returns:
        The model; input ``(N, 3, H, W)`` ImageNet-normalised, output logits ``(N, K)``.
        Grad-CAM's usual layer is ``model.layer4``, also ``model.target_layer``.

    Example:
        >>> import torch
        >>> from captum_explainer.models import resnet50_multilabel
        >>> model = resnet50_multilabel(num_classes=20).eval()  # random weights, no download
        >>> model(torch.rand(1, 3, 64, 64)).shape
        torch.Size([1, 20])
    """
    model = _build_backbone(torchvision.models.resnet50, ResNet50_Weights, weights)
    if freeze_features:
        model.requires_grad_(False)
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    model.num_classes = num_classes
    model.target_layer = model.layer4
    return model
