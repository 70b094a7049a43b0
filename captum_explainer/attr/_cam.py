"""What the class-activation-map methods share (Grad-CAM, Score-CAM): which layer to read
when none is given, a layer's activations from one forward pass, and a transformer's tokens
on their patch grid.

The layer is found automatically when not given: a model's ``target_layer`` attribute (this
package's models), the last encoder block of a torchvision vision transformer (its patch
tokens, class token dropped, reshaped to their grid), else the last module whose output is
spatial ``(N, C, H, W)`` with ``H * W > 1`` (a ResNet's ``layer4``, a VGG's ``features``),
found on the first batch explained.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torchvision
from torch import nn

from captum_explainer.attr._base import forward_logits, removable_hooks

#: Leading tokens that are not patches (a class token and register tokens) token_grid drops.
MAX_EXTRA_TOKENS = 8


def token_grid(tokens: torch.Tensor) -> torch.Tensor:
    """Tokens ``(N, T, D)`` as a feature map ``(N, D, side, side)`` on their patch grid: the
    last ``side**2`` tokens, with ``side**2`` the largest square in ``T``; the leading ones (a
    class token, register tokens: at most :data:`MAX_EXTRA_TOKENS`) are dropped."""
    if tokens.dim() != 3:
        raise ValueError(f"a token layer must give (N, T, D), got {tuple(tokens.shape)}")
    t = tokens.shape[1]
    side = math.isqrt(t)
    if t - side * side > MAX_EXTRA_TOKENS:
        raise ValueError(
            f"{t} tokens are not a square grid after at most {MAX_EXTRA_TOKENS} leading "
            f"class or register tokens"
        )
    patches = tokens[:, t - side * side :]
    return patches.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], side, side)


def layer_activations(
    forward_func: Callable,
    layer: nn.Module | TokenLayer,
    inputs: tuple[torch.Tensor, ...],
    additional_forward_args: Any = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward pass: the layer's output as a feature map ``(N, C, h, w)`` (tokens on
    their grid) and the model's logits ``(N, K)``; the hook is removed on any exit."""
    module = layer.module if isinstance(layer, TokenLayer) else layer
    captured: list[torch.Tensor] = []
    with removable_hooks() as hooks:
        hooks.append(module.register_forward_hook(lambda m, i, out: captured.append(out)))
        logits = forward_logits(forward_func, inputs, additional_forward_args)
    if not captured or not isinstance(captured[0], torch.Tensor):
        raise ValueError(f"layer {type(module).__name__} gave no tensor output in the forward pass")
    output = captured[0].detach()
    if isinstance(layer, TokenLayer):
        return token_grid(output), logits
    if output.dim() != 4:
        raise ValueError(
            f"layer {type(module).__name__} gives shape {tuple(output.shape)}, not a feature map "
            f"(N, C, H, W); give a convolutional layer, or TokenLayer(module) for tokens"
        )
    return output, logits


class TokenLayer:
    """A transformer layer whose output is tokens ``(N, T, D)``: Grad-CAM reads them on
    their patch grid (see :meth:`GradCAM._token_map`)."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module


def default_layer(model: Callable) -> nn.Module | TokenLayer | None:
    """The layer Grad-CAM uses when none is given: ``model.target_layer``, a torchvision
    ViT's last encoder block (its first LayerNorm, whose patch tokens the class token
    still attends to), or ``None``: the last spatial layer, found on the first batch."""
    layer = getattr(model, "target_layer", None)
    if layer is not None:
        return layer
    if isinstance(model, torchvision.models.VisionTransformer):
        return TokenLayer(model.encoder.layers[-1].ln_1)
    if not isinstance(model, nn.Module):
        raise ValueError(
            "layer must be given: forward_func is a function, whose layers cannot be searched"
        )
    return None


def last_spatial_layer(
    model: nn.Module, inputs: tuple[torch.Tensor, ...], additional_forward_args: Any = None
) -> nn.Module | TokenLayer:
    """The layer Grad-CAM reads when none is given, from one forward pass of the first image
    (hooks removed): the last module (in execution order) whose output is ``(N, C, H, W)``
    with ``H * W > 1``, global pooling layers left out; or, for a vision transformer (a
    model whose last token LayerNorm comes after every such output), its last block's first
    LayerNorm.

    Pre-norm transformers (torchvision's, Hugging Face's and timm's ViT and Swin) run two
    LayerNorms per block and one after the last block, so that layer is the third token
    LayerNorm from the end: the last point where the patch tokens still feed attention, the
    layer torchvision ViTs use here (:func:`default_layer`)."""
    outputs: list[tuple[nn.Module, torch.Tensor]] = []
    hooks = [
        module.register_forward_hook(lambda m, _, out: outputs.append((m, out)))
        for module in model.modules()
        if module is not model and not isinstance(module, _GLOBAL_POOLS)
    ]
    extra = () if additional_forward_args is None else additional_forward_args
    extra = extra if isinstance(extra, tuple) else (extra,)
    try:
        with torch.no_grad():
            model(*(x[:1] for x in inputs), *extra)
    finally:
        for hook in hooks:
            hook.remove()
    spatial = [
        i
        for i, (_, out) in enumerate(outputs)
        if isinstance(out, torch.Tensor) and out.dim() == 4 and out.shape[-1] * out.shape[-2] > 1
    ]
    token_norms = [
        i
        for i, (m, out) in enumerate(outputs)
        if isinstance(m, nn.LayerNorm) and isinstance(out, torch.Tensor) and out.dim() == 3
    ]
    # A model that ends in token space (its last token norm after every 4-D output; Swin's
    # attention makes 4-D tensors inside its blocks) is read at its last block's first norm.
    if len(token_norms) >= 3 and token_norms[-1] > (spatial[-1] if spatial else -1):
        return TokenLayer(outputs[token_norms[-3]][0])
    if not spatial:
        raise ValueError(
            f"no layer of {type(model).__name__} gives a spatial output (N, C, H, W) with more "
            f"than one pixel; give layer= (Grad-CAM needs one)"
        )
    return outputs[spatial[-1]][0]


_GLOBAL_POOLS = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


def resolve_layer(
    model: nn.Module,
    layer: nn.Module | TokenLayer | str | None,
    images: torch.Tensor | None = None,
) -> nn.Module | TokenLayer | None:
    """The one lookup of a CAM layer: a name is looked up in ``model`` (``"layer3"``), a
    module or :class:`TokenLayer` is used as given, and ``None`` is :func:`default_layer`,
    else, where ``images`` are given, :func:`last_spatial_layer` found on them (without
    ``images``: ``None``, which the methods resolve on their first batch)."""
    if isinstance(layer, str):
        return model.get_submodule(layer)
    if layer is not None or images is None:
        return layer
    return default_layer(model) or last_spatial_layer(model, (images,))
