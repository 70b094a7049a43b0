"""The small CNN classifier for :class:`~captum_explainer.data.SyntheticScenes`."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from captum_explainer.checkpoint import load_checkpoint, load_state_dict_checked
from captum_explainer.models._shipped import SYNTHETIC_CLASSIFIER, shipped


def _conv_block(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    # Each block owns its ReLU module (never shared), so hooks see one call per block.
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    )


class SmallCNN(nn.Module):
    """Six conv-BN-ReLU blocks and a linear multi-label head (about 0.3M parameters).

    The first block has stride 2 and two max-pools follow blocks 2 and 4, so a 64 x 64
    input gives 8 x 8 feature maps in ``features.block6``, the layer Grad-CAM uses
    (:attr:`target_layer`).

    Args:
        num_classes: number of output logits ``K``.
        in_channels: image channels.
        width: channels of the first blocks; later blocks use 2x and 4x.

    Shapes: input ``(N, in_channels, H, W)`` with ``H, W >= 8``; output logits ``(N, K)``.

    Example:
        >>> import torch
        >>> from captum_explainer.models import SmallCNN
        >>> SmallCNN(num_classes=10, in_channels=1)(torch.rand(4, 1, 28, 28)).shape
        torch.Size([4, 10])
    """

    def __init__(self, num_classes: int = 8, in_channels: int = 3, width: int = 32) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.features = nn.Sequential(
            OrderedDict(
                block1=_conv_block(in_channels, width, stride=2),
                block2=_conv_block(width, width),
                pool1=nn.MaxPool2d(2),
                block3=_conv_block(width, 2 * width),
                block4=_conv_block(2 * width, 2 * width),
                pool2=nn.MaxPool2d(2),
                block5=_conv_block(2 * width, 4 * width),
                block6=_conv_block(4 * width, 4 * width),
            )
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(4 * width, num_classes)

    @property
    def target_layer(self) -> nn.Module:
        """The last convolutional block: the usual layer for Grad-CAM."""
        return self.features.block6

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"SmallCNN expects images shaped (N, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        if x.shape[-1] < 8 or x.shape[-2] < 8:
            raise ValueError(
                f"SmallCNN needs images of at least 8 x 8 pixels, got {tuple(x.shape)}"
            )
        return self.head(torch.flatten(self.pool(self.features(x)), 1))


def small_cnn(weights: str | None = None, num_classes: int = 8) -> SmallCNN:
    """Build a :class:`SmallCNN`, like torchvision's builders.

    Args:
        weights: ``None`` for random weights, ``"synthetic"`` for the weights shipped with
            the package (trained on :class:`~captum_explainer.data.SyntheticScenes`), or the
            path of a checkpoint written by ``captum-explainer train-classifier``.
        num_classes: number of classes; must match the weights when they are given.

    Returns:
        The model, in ``eval()`` mode when weights were loaded.

    Example:
        >>> import torch
        >>> from captum_explainer.models import small_cnn
        >>> small_cnn(num_classes=8)(torch.rand(1, 3, 64, 64)).shape  # random weights
        torch.Size([1, 8])
    """
    if weights is None:
        return SmallCNN(num_classes=num_classes)
    path = shipped(SYNTHETIC_CLASSIFIER, "train-classifier") if weights == "synthetic" else weights
    checkpoint = load_checkpoint(path, kind="classifier")
    stored = (checkpoint.get("arch"), int(checkpoint.get("num_classes", -1)))
    if stored != ("small_cnn", num_classes):
        raise ValueError(
            f"weights {str(path)!r} hold a {stored[0]} with {stored[1]} classes, expected a "
            f"small_cnn with {num_classes}"
        )
    model = SmallCNN(num_classes=num_classes)
    load_state_dict_checked(model, checkpoint["state_dict"], path)
    return model.eval()
