"""How the package's networks run fast: channels-last storage and bfloat16 autocast.

**Layout.** oneDNN's convolutions work on channels-last (``NHWC``) data. Given standard (``NCHW``)
tensors they reorder the input and the weights at every call, which costs a small network a
large share of its time: the shipped ``SmallExplainer`` at 64 px, batch 2, took 6.4 ms per
call with standard tensors and 4.7 ms with channels-last weights and input; the
``resnet18_fpn`` Explainer at 128 px, batch 16, 108-115 and 123-129 images/s (2 CPU cores;
see docs/performance.md). The values are the same to float32 rounding.

The package's loaders store the networks they build this way (:func:`to_channels_last`);
:func:`like_network` gives an input the layout of the network it goes to, so a user's own
network in the standard layout is called exactly as before.

**Folded batch norms, compiled.** In evaluation mode a batch norm after a convolution is an
affine map per channel: :func:`fold_batch_norms` gives a copy of a network with each such pair
made one convolution (one pass over the activations fewer per pair), and ``torch.compile`` of
that copy fuses the rest. ``resnet18_fpn`` at 128 px, batch 16, 2 cores, float32, through
``ExplainerAttribution`` (median images/s over five runs): 133-142 as loaded, 141-154 folded,
145-160 folded and compiled (docs/real-objects.md).

**Precision.** :data:`PRECISIONS` are the forward passes' numeric precisions, for training
(``--precision``) and for a map network's inference (``ExplainerAttribution(precision=...)``):
``"bf16"`` runs them under bfloat16 autocast (weights stay float32, outputs come back as
float32). On a CPU with AVX-512 BF16 the ``resnet18_fpn`` Explainer at 128 px, batch 16, went
from 127-133 to 223-252 images/s, its masks within 0.0085 of float32's (mean difference 2e-5).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from captum_explainer.machine import warn_if_slow_precision

#: Numeric precisions of a forward pass: float32, or bfloat16 autocast.
PRECISIONS = ("fp32", "bf16")


def check_precision(precision: str, name: str = "precision") -> str:
    """``precision`` if it is one of :data:`PRECISIONS`; else a ``ValueError`` naming ``name``."""
    if precision not in PRECISIONS:
        raise ValueError(f"{name} must be one of {list(PRECISIONS)}, got {precision!r}")
    return precision


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """The autocast context of ``precision`` on ``device`` (a no-op for ``"fp32"``); warns
    where ``"bf16"`` runs on a CPU without native bfloat16, where it is slower than float32."""
    warn_if_slow_precision(precision, device)
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def to_channels_last(network: nn.Module) -> nn.Module:
    """Store ``network``'s 4-D weights channels-last, in place (values and names unchanged,
    so its ``state_dict`` loads into a network of either layout); returns ``network``.

    Example:
        >>> import torch
        >>> from captum_explainer.models import SmallExplainer
        >>> from captum_explainer.models.inference import stores_channels_last, to_channels_last
        >>> stores_channels_last(to_channels_last(SmallExplainer(num_classes=3)))
        True
    """
    return network.to(memory_format=torch.channels_last)


def stores_channels_last(network: nn.Module) -> bool:
    """Whether the first 4-D parameter of ``network`` (a convolution's weight) is stored
    channels-last; ``False`` for a network without one."""
    for parameter in network.parameters():
        if parameter.dim() == 4:
            return parameter.is_contiguous(memory_format=torch.channels_last)
    return False


def like_network(network: nn.Module, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """``inputs`` with their 4-D tensors made channels-last where ``network`` stores its
    weights so (one copy each, instead of a reorder inside every convolution); unchanged
    otherwise."""
    if not stores_channels_last(network):
        return inputs
    return tuple(
        t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t for t in inputs
    )


def _fold_into(convolution: nn.Conv2d, norm: nn.BatchNorm2d) -> None:
    """Make ``convolution`` compute ``norm(convolution(x))`` with ``norm``'s running statistics."""
    scale = torch.rsqrt(norm.running_var + norm.eps)
    shift = -norm.running_mean * scale
    if norm.affine:
        scale, shift = scale * norm.weight, shift * norm.weight + norm.bias
    weight = convolution.weight * scale.reshape(-1, 1, 1, 1)
    bias = shift if convolution.bias is None else convolution.bias * scale + shift
    layout = (
        torch.channels_last
        if convolution.weight.is_contiguous(memory_format=torch.channels_last)
        else torch.contiguous_format
    )
    convolution.weight = nn.Parameter(weight.detach().contiguous(memory_format=layout))
    convolution.bias = nn.Parameter(bias.detach())


def _convolution_norm_pairs(network: nn.Module) -> list[tuple[nn.Module, str, nn.Conv2d]]:
    """``(parent, name of the norm, convolution)`` for each batch norm that follows a
    convolution by structure: neighbours in an ``nn.Sequential``, or siblings named ``convN``
    and ``bnN`` (torchvision's ResNet stem and blocks)."""
    pairs = []
    for parent in network.modules():
        children = dict(parent.named_children())
        names = list(children)
        if isinstance(parent, nn.Sequential):
            neighbours = zip(names, names[1:])
        else:
            neighbours = (("conv" + n[2:], n) for n in names if n.startswith("bn"))
        for conv_name, norm_name in neighbours:
            convolution, norm = children.get(conv_name), children[norm_name]
            if (
                isinstance(convolution, nn.Conv2d)
                and isinstance(norm, nn.BatchNorm2d)
                and norm.running_var is not None
            ):
                pairs.append((parent, norm_name, convolution))
    return pairs


def fold_batch_norms(network: nn.Module) -> nn.Module:
    """An inference copy of ``network``: in evaluation mode, without gradients, each batch norm
    that directly follows a convolution folded into that convolution's weights and replaced by
    ``nn.Identity`` (``network`` itself is not changed).

    A pair is found by structure, as the package's networks and torchvision's ResNets are
    built: neighbours in an ``nn.Sequential``, or siblings named ``convN`` and ``bnN`` whose
    convolution feeds only that norm. The copy gives the same outputs to float32 rounding and
    saves one pass over the activations per pair; ``torch.compile`` of it is the fastest
    float32 Explainer here (see the module's notes).

    Example:
        >>> import torch
        >>> from captum_explainer.models import SmallExplainer
        >>> from captum_explainer.models.inference import fold_batch_norms
        >>> explainer = SmallExplainer(num_classes=3).eval()
        >>> folded = fold_batch_norms(explainer)
        >>> any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
        False
        >>> images = torch.rand(2, 3, 32, 32)
        >>> torch.allclose(folded(images), explainer(images), atol=1e-5)
        True
    """
    folded = copy.deepcopy(network).eval()
    with torch.no_grad():
        for parent, norm_name, convolution in _convolution_norm_pairs(folded):
            _fold_into(convolution, getattr(parent, norm_name))
            setattr(parent, norm_name, nn.Identity())
    return folded.requires_grad_(False)
