"""Explainer networks: map images ``(N, C, H, W)`` to per-class mask logits ``(N, K, H, W)``.

- :class:`SmallExplainer`: a light encoder-decoder for the synthetic data. Its encoder has
  exactly the layout of :class:`SmallCNN`'s ``features``, so it can start from the trained
  classifier's weights (:meth:`SmallExplainer.init_from_classifier`), which the prototypes
  found to matter most for class-specific masks.
- :class:`ResNetExplainer` (``resnet18_fpn``, ``resnet50_fpn``): a torchvision ResNet
  encoder with a light decoder, for a user's real images; it can start from the
  classifier's own backbone where the architectures match.
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

from captum_explainer.checkpoint import load_state_dict_checked, read_state_dict
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

    Example:
        >>> import torch
        >>> from captum_explainer.models import SmallExplainer
        >>> explainer = SmallExplainer(num_classes=8)
        >>> explainer(torch.rand(2, 3, 64, 64)).shape  # one mask logit map per class
        torch.Size([2, 8, 64, 64])
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

    def init_from_classifier(self, classifier: nn.Module) -> SmallExplainer:
        """Copy a :class:`SmallCNN` classifier's convolutional features into the encoder;
        ``ValueError`` where the classifier is not one of the same width and channels."""
        features = getattr(classifier, "features", None)
        theirs = features.state_dict() if isinstance(features, nn.Module) else {}
        what = "a SmallCNN of this width and channel count: its features"
        _copy_encoder(self.encoder, theirs, f"{type(classifier).__name__}) is not {what}")
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


def _copy_encoder(encoder: nn.Module, state: dict[str, torch.Tensor], why_not: str) -> None:
    """Load ``state`` into ``encoder`` if it holds exactly its weights, else ``ValueError``."""
    own = encoder.state_dict()
    if set(state) != set(own) or any(own[k].shape != v.shape for k, v in state.items()):
        raise ValueError(f"the classifier ({why_not} cannot start the encoder")
    encoder.load_state_dict(state)


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class ResNetExplainer(nn.Module):
    """An Explainer for real images: a torchvision ResNet encoder and a light decoder.

    The encoder's four stages (1/4 ... 1/32 of the input side) are each projected to
    ``decoder_channels`` and summed from coarse to fine (a feature pyramid); a 3 x 3
    convolution gives the class logits at 1/4 of the side, upsampled bilinearly to the
    input's size. About 12M parameters with ``resnet18`` (the paper's DeepLabV3-ResNet50:
    about 40M).

    Args:
        num_classes: ``K``.
        backbone: ``"resnet18"``, ``"resnet34"`` or ``"resnet50"`` (random weights; see
            :meth:`init_from_classifier`).
        in_channels: image channels (the first convolution is rebuilt for 1-channel images).
        decoder_channels: the decoder's width.
        presence: add to every pixel's logit of class ``k`` a presence logit of ``k`` read from
            the encoder's globally pooled last stage (a linear layer, started from the
            classifier's own head by :meth:`init_from_classifier`). Off by default: on the
            real-objects world it let the Explainer switch off present classes as a whole
            (empty masks; every score was worse with it, docs/real-objects.md). Checkpoints
            that have it store ``presence=True`` in their ``arch_kwargs`` and load with it.

    Shapes: ``(N, in_channels, H, W)``, any ``H, W >= 1``; output ``(N, K, H, W)``.
    """

    BACKBONES = ("resnet18", "resnet34", "resnet50")

    def __init__(
        self,
        num_classes: int,
        backbone: str = "resnet18",
        in_channels: int = 3,
        decoder_channels: int = 64,
        presence: bool = False,
    ) -> None:
        super().__init__()
        if backbone not in self.BACKBONES:
            raise ValueError(f"backbone must be one of {list(self.BACKBONES)}, got {backbone!r}")
        self.num_classes, self.in_channels, self.backbone = num_classes, in_channels, backbone
        self.builder_kwargs = dict(
            backbone=backbone,
            in_channels=in_channels,
            decoder_channels=decoder_channels,
            presence=presence,
        )
        self.encoder = torchvision.models.get_model(backbone, weights=None)
        if in_channels != 3:
            self.encoder.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        del self.encoder.fc, self.encoder.avgpool
        widths = [self._stage_width(stage) for stage in self._stages()]
        self.lateral = nn.ModuleList(nn.Conv2d(w, decoder_channels, 1) for w in widths)
        self.head = nn.Sequential(
            nn.Conv2d(decoder_channels, decoder_channels, 3, padding=1),
            nn.BatchNorm2d(decoder_channels),
            nn.ReLU(),
            nn.Conv2d(decoder_channels, num_classes, 1),
        )
        self.presence = nn.Linear(widths[-1], num_classes) if presence else None

    def _stages(self) -> list[nn.Sequential]:
        e = self.encoder
        return [e.layer1, e.layer2, e.layer3, e.layer4]

    @staticmethod
    def _stage_width(stage: nn.Sequential) -> int:
        last = stage[-1]
        return (last.conv3 if hasattr(last, "conv3") else last.conv2).out_channels

    def init_from_classifier(self, classifier: nn.Module) -> ResNetExplainer:
        """Copy a torchvision ResNet classifier's backbone (same architecture and channels)
        into the encoder; ``ValueError`` where the classifier's weights do not fit."""
        own = self.encoder.state_dict()
        theirs = {k: v for k, v in classifier.state_dict().items() if k in own}
        what = f"a torchvision {self.backbone} with {self.in_channels} input channels: its backbone"
        _copy_encoder(self.encoder, theirs, f"{type(classifier).__name__}) is not {what}")
        head = getattr(classifier, "fc", None)
        if (
            self.presence is not None
            and isinstance(head, nn.Linear)
            and head.weight.shape == self.presence.weight.shape
        ):
            # The presence logits start as the classifier's own logits.
            self.presence.load_state_dict(head.state_dict())
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"ResNetExplainer expects images shaped (N, {self.in_channels}, H, W), got "
                f"{tuple(x.shape)}"
            )
        e = self.encoder
        features = e.maxpool(e.relu(e.bn1(e.conv1(x))))
        outputs = []
        for stage in self._stages():
            features = stage(features)
            outputs.append(features)
        merged = self.lateral[3](outputs[3])
        for level in (2, 1, 0):
            merged = _up(merged, outputs[level]) + self.lateral[level](outputs[level])
        logits = self.head(merged)
        if self.presence is not None:
            logits = logits + self.presence(outputs[3].mean((2, 3)))[:, :, None, None]
        return _up(logits, x)


def resnet18_explainer(num_classes: int, **kwargs: Any) -> ResNetExplainer:
    """:class:`ResNetExplainer` on a ResNet-18 encoder."""
    return ResNetExplainer(num_classes, **{"backbone": "resnet18", **kwargs})


def resnet50_explainer(num_classes: int, **kwargs: Any) -> ResNetExplainer:
    """:class:`ResNetExplainer` on a ResNet-50 encoder."""
    return ResNetExplainer(num_classes, **{"backbone": "resnet50", **kwargs})


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

    Example:
        >>> import torch
        >>> from captum_explainer.models import deeplabv3_explainer
        >>> explainer = deeplabv3_explainer(num_classes=20).eval()  # random weights, no download
        >>> explainer(torch.rand(1, 3, 64, 64)).shape
        torch.Size([1, 20, 64, 64])
    """
    return DeepLabV3Explainer(num_classes, weights_backbone)


EXPLAINERS = {
    "small_explainer": SmallExplainer,
    "resnet18_fpn": resnet18_explainer,
    "resnet50_fpn": resnet50_explainer,
    "deeplabv3_resnet50": deeplabv3_explainer,
}


def build_explainer(arch: str, num_classes: int, **kwargs: Any) -> nn.Module:
    """A fresh Explainer of architecture ``arch`` (one of :data:`EXPLAINERS`); ``kwargs``
    go to its builder (e.g. ``class_head_channels`` or ``in_channels`` of :class:`SmallExplainer`).

    Example:
        >>> import torch
        >>> from captum_explainer.models import EXPLAINERS, build_explainer
        >>> sorted(EXPLAINERS)
        ['deeplabv3_resnet50', 'resnet18_fpn', 'resnet50_fpn', 'small_explainer']
        >>> explainer = build_explainer("small_explainer", num_classes=10, in_channels=1)
        >>> explainer(torch.rand(1, 1, 28, 28)).shape
        torch.Size([1, 10, 28, 28])
    """
    if arch not in EXPLAINERS:
        raise ValueError(f"explainer arch must be one of {sorted(EXPLAINERS)}, got {arch!r}")
    return EXPLAINERS[arch](num_classes=num_classes, **kwargs)


def init_encoder_from(explainer: nn.Module, classifier: nn.Module) -> bool:
    """Start ``explainer``'s encoder from the classifier's backbone where the two match (the
    prototypes found it matters most for class-specific masks). Returns whether it did."""
    init = getattr(explainer, "init_from_classifier", None)
    if init is None:
        return False
    try:
        init(classifier)
    except ValueError:
        return False
    return True


def init_encoder_from_file(explainer: nn.Module, path: str | os.PathLike) -> None:
    """Start ``explainer``'s encoder from the backbone weights in ``path``: a ``state_dict``
    of the same torchvision architecture (e.g. torchvision's ImageNet ResNet-18 file), or a
    classifier checkpoint of the package holding one (``train-classifier --model
    torchvision:resnet18``). For a classifier that is not a ResNet (a ViT), whose backbone
    cannot start the encoder itself. A head (``fc``) in the file is left out.

    Raises:
        ValueError: ``explainer`` has no encoder.
        CheckpointError: the file cannot be read, or its weights do not fit the encoder.
    """
    encoder = getattr(explainer, "encoder", None)
    if not isinstance(encoder, nn.Module):
        raise ValueError(
            f"encoder_weights: {type(explainer).__name__} has no encoder to start from "
            f"{os.fspath(path)!r}; use an Explainer with an encoder (resnet18_fpn, resnet50_fpn)"
        )
    state = read_state_dict(path, "encoder weights")
    # Everything but a classifier's head (fc), which the encoder does not have; strictly, so
    # that another depth of the same family (a ResNet-34's extra blocks) is refused.
    backbone = {k: v for k, v in state.items() if not k.startswith("fc.")}
    load_state_dict_checked(encoder, backbone, path)


def check_explainer_output(
    logits: torch.Tensor,
    inputs: torch.Tensor,
    num_classes: int | None = None,
    what: str = "the Explainer",
) -> None:
    """Raise ``ValueError`` (naming ``what``) unless ``logits`` is ``(N, K, H, W)`` for
    inputs ``(N, C, H, W)``."""
    n, _, h, w = inputs.shape
    ok = isinstance(logits, torch.Tensor) and logits.dim() == 4 and logits.shape[0] == n
    ok = ok and tuple(logits.shape[-2:]) == (h, w)
    ok = ok and (num_classes is None or logits.shape[1] == num_classes)
    if not ok:
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        k = num_classes if num_classes is not None else "K"
        raise ValueError(
            f"{what} must map inputs {tuple(inputs.shape)} to maps ({n}, {k}, {h}, {w}) (one "
            f"per class, at the input's resolution), got {got}"
        )
