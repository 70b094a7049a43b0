"""Explainer networks: map images ``(N, C, H, W)`` to per-class mask logits ``(N, K, H, W)``.

- :class:`SmallExplainer`: a light encoder-decoder for the synthetic data. Its encoder has
  exactly the layout of :class:`SmallCNN`'s ``features``, so it can start from the trained
  classifier's weights (:meth:`SmallExplainer.init_from_classifier`), which the prototypes
  found to matter most for class-specific masks.
- :func:`deeplabv3_explainer`: the paper's network, torchvision's DeepLabV3-ResNet50 with
  ``K`` output channels, upsampled to the input's size.

Any ``nn.Module`` with that input-output contract can serve as an Explainer;
:func:`check_explainer_output` says clearly when one does not.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision.models import ResNet50_Weights

from captum_explainer.models.multilabel import BackboneWeights, load_backbone_file, resolve_weights
from captum_explainer.models.small_cnn import SmallCNN, _conv_block


class SmallExplainer(nn.Module):
    """Encoder-decoder Explainer for small images (about 0.4M parameters at ``width=32``).

    The encoder is a :class:`SmallCNN` feature extractor (outputs at 1/2, 1/4 and 1/8 of
    the input side); the decoder upsamples with skip connections back to the input's
    resolution, where a thin full-resolution branch of the image keeps mask boundaries
    sharp at little cost.

    The head turns the full-resolution features into one mask per class. With
    ``class_head_channels=c > 0`` each class has its own ``c`` full-resolution channels (a
    3 x 3 convolution to ``K * c`` channels, then a grouped 1 x 1 convolution, one group per
    class), so that two classes' maps can differ in shape and not only in gain; with ``0``
    it is one shared 1 x 1 convolution (the package's head before version 0.3, whose class
    maps came out as near copies of one objectness map).

    Args:
        num_classes: ``K``, one mask channel per class.
        width: the encoder's first width (as :class:`SmallCNN`).
        full_res_channels: channels of the full-resolution branch.
        class_head_channels: full-resolution channels per class in the head (0: shared head).
        in_channels: image channels (1 for grayscale).

    Shapes: input ``(N, in_channels, H, W)``, any ``H, W >= 1`` (padded internally to a
    multiple of 8, then cropped back); output logits ``(N, K, H, W)``.
    """

    def __init__(
        self,
        num_classes: int = 8,
        width: int = 32,
        full_res_channels: int = 12,
        class_head_channels: int = 4,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        for name, value, low in (
            ("num_classes", num_classes, 1),
            ("width", width, 1),
            ("full_res_channels", full_res_channels, 1),
            ("class_head_channels", class_head_channels, 0),
            ("in_channels", in_channels, 1),
        ):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        self.num_classes = num_classes
        self.in_channels = in_channels
        #: What :func:`build_explainer` needs to rebuild this network (stored in checkpoints).
        self.builder_kwargs = dict(
            width=width,
            full_res_channels=full_res_channels,
            class_head_channels=class_head_channels,
            in_channels=in_channels,
        )
        self.encoder = SmallCNN(
            num_classes=num_classes, in_channels=in_channels, width=width
        ).features
        self.up3 = _conv_block(4 * width + 2 * width, 2 * width)  # 1/8 -> 1/4, skip block4
        self.up2 = _conv_block(2 * width + width, width)  # 1/4 -> 1/2, skip block2
        self.full_res = _conv_block(in_channels, full_res_channels)
        self.up1 = _conv_block(width + full_res_channels, full_res_channels)  # 1/2 -> 1
        if class_head_channels:
            per_class = num_classes * class_head_channels
            self.head = nn.Sequential(
                nn.Conv2d(full_res_channels, per_class, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(per_class, num_classes, 1, groups=num_classes),
            )
        else:
            self.head = nn.Conv2d(full_res_channels, num_classes, 1)

    def init_from_classifier(self, classifier: SmallCNN) -> SmallExplainer:
        """Copy the classifier's convolutional features into the encoder."""
        self.encoder.load_state_dict(classifier.features.state_dict())
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"SmallExplainer expects images shaped (N, {self.in_channels}, H, W), got "
                f"{tuple(x.shape)}"
            )
        h, w = x.shape[-2:]
        # Three halvings need sides divisible by 8: pad (replicating the border, so no
        # artificial edge appears) and crop the masks back to the input's size.
        pad_h, pad_w = -h % 8, -w % 8
        if pad_h or pad_w:
            mode = "replicate" if min(h, w) > 1 else "constant"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        e = self.encoder
        s2 = e.block2(e.block1(x))  # 1/2
        s4 = e.block4(e.block3(e.pool1(s2)))  # 1/4
        s8 = e.block6(e.block5(e.pool2(s4)))  # 1/8
        d4 = self.up3(torch.cat([_up(s8, s4), s4], dim=1))
        d2 = self.up2(torch.cat([_up(d4, s2), s2], dim=1))
        d1 = self.up1(torch.cat([_up(d2, x), self.full_res(x)], dim=1))
        return self.head(d1)[..., :h, :w]


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class DeepLabV3Explainer(nn.Module):
    """torchvision's DeepLabV3-ResNet50 returning only its ``"out"`` logits ``(N, K, H, W)``."""

    def __init__(self, num_classes: int, weights_backbone: BackboneWeights = None) -> None:
        super().__init__()
        enum, path = resolve_weights(weights_backbone, ResNet50_Weights)
        self.net = torchvision.models.segmentation.deeplabv3_resnet50(
            weights=None, weights_backbone=enum, num_classes=num_classes, aux_loss=False
        )
        if path is not None:
            backbone = torchvision.models.resnet50(weights=None)
            load_backbone_file(backbone, path)
            state = {k: v for k, v in backbone.state_dict().items() if not k.startswith("fc.")}
            self.net.backbone.load_state_dict(state)
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # torchvision already upsamples "out" bilinearly to the input's size.
        return self.net(x)["out"]


def deeplabv3_explainer(
    num_classes: int, weights_backbone: BackboneWeights | os.PathLike = None
) -> DeepLabV3Explainer:
    """The paper's Explainer: DeepLabV3-ResNet50 with ``num_classes`` output channels.

    Args:
        num_classes: ``K``.
        weights_backbone: ImageNet weights of the ResNet-50 backbone: ``None`` (random; the
            tests), a ``ResNet50_Weights`` member or its name, or a local ``state_dict`` file.
            The segmentation head always starts random, as in the paper.
    """
    return DeepLabV3Explainer(num_classes, weights_backbone)


EXPLAINERS = {"small_explainer": SmallExplainer, "deeplabv3_resnet50": deeplabv3_explainer}


def build_explainer(arch: str, num_classes: int, **kwargs: Any) -> nn.Module:
    """A fresh Explainer of architecture ``arch`` (one of :data:`EXPLAINERS`); ``kwargs``
    go to its builder (e.g. ``class_head_channels`` or ``in_channels`` of :class:`SmallExplainer`)."""
    if arch not in EXPLAINERS:
        raise ValueError(f"explainer arch must be one of {sorted(EXPLAINERS)}, got {arch!r}")
    return EXPLAINERS[arch](num_classes=num_classes, **kwargs)


def check_explainer_output(
    logits: torch.Tensor, inputs: torch.Tensor, num_classes: int | None = None
) -> None:
    """Raise ``ValueError`` unless ``logits`` is ``(N, K, H, W)`` for inputs ``(N, C, H, W)``."""
    n, _, h, w = inputs.shape
    ok = isinstance(logits, torch.Tensor) and logits.dim() == 4 and logits.shape[0] == n
    ok = ok and tuple(logits.shape[-2:]) == (h, w)
    ok = ok and (num_classes is None or logits.shape[1] == num_classes)
    if not ok:
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        k = num_classes if num_classes is not None else "K"
        raise ValueError(
            f"the Explainer must map inputs {tuple(inputs.shape)} to mask logits ({n}, {k}, {h}, {w}), got {got}"
        )
