"""Score-CAM: score-weighted class activation maps (Wang et al., CVPR 2020 workshops)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from captum._utils.typing import TargetType
from captum.attr import LayerAttribution
from captum.log import log_usage
from torch import nn

from captum_explainer.attr._base import (
    format_inputs,
    format_output,
    forward_logits,
    preserved_model_state,
    resolve_targets,
)
from captum_explainer.attr._cam import (
    TokenLayer,
    default_layer,
    last_spatial_layer,
    layer_activations,
)
from captum_explainer.scores import ScoreType, check_score, class_scores


class ScoreCAM(LayerAttribution):
    """Score-CAM: each channel of a layer, upsampled and scaled to [0, 1], masks the image;
    the class score of each masked image weighs its channel.

    For activations ``A_k`` (``k`` over the layer's channels), the mask
    ``H_k = minmax(upsample(A_k))`` and the masked image ``x_k = H_k * x + (1 - H_k) * b``
    (``b`` the baseline, 0 by default, as the paper multiplies the image by the mask), the map
    is ``ReLU(sum_k w_k A_k)`` with ``w = softmax_k(score_c(F(x_k)))``, upsampled
    (bilinear) to the input's size. The paper's "increase of confidence" subtracts the
    baseline image's score from every channel's, which the softmax over channels cancels.
    No gradients: only forward passes, ``N * C`` of them (``C`` the layer's channels), in
    batches of ``perturbations_per_eval``.

    Args:
        forward_func: the model, or a function returning ``(N, K)`` logits (then give
            ``layer``).
        layer: the layer whose channels make the masks; ``None`` finds it as
            :class:`~captum_explainer.attr.GradCAM` does (tokens on their grid).
        score: what the channels are weighed by: ``"softmax"`` (default, as the paper's
            code), ``"sigmoid"`` (multi-label models), ``"logit"`` (as pytorch-grad-cam) or a
            callable on ``(N, K)`` logits.

    Example:
        >>> import torch
        >>> from captum_explainer import ScoreCAM
        >>> from captum_explainer.models import synthetic_classifier
        >>> cam = ScoreCAM(synthetic_classifier(), score="sigmoid")
        >>> cam.attribute(torch.rand(1, 3, 64, 64), target=2).shape
        torch.Size([1, 1, 64, 64])
    """

    def __init__(
        self,
        forward_func: Callable,
        layer: nn.Module | TokenLayer | None = None,
        score: ScoreType = "softmax",
    ) -> None:
        LayerAttribution.__init__(self, forward_func, layer or default_layer(forward_func))
        self.score = check_score(score)

    @log_usage()
    def attribute(
        self,
        inputs: torch.Tensor | tuple[torch.Tensor, ...],
        target: TargetType = None,
        additional_forward_args: Any = None,
        baselines: float = 0.0,
        perturbations_per_eval: int = 64,
    ) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """The target class's Score-CAM map at the input's height and width.

        Args:
            inputs: images ``(N, C, H, W)`` (or a tuple of batches of one size, masked alike).
            target: the explained class, in any Captum form.
            additional_forward_args: passed to ``forward_func`` after the inputs.
            baselines: the value masked-out pixels take (in the model's input space).
            perturbations_per_eval: masked images per forward pass.

        Returns:
            ``(N, 1, H, W)`` non-negative maps (a tuple for a tuple input).
        """
        formatted, is_tuple = format_inputs(inputs)
        maps = self._maps(
            formatted, target, additional_forward_args, baselines, perturbations_per_eval
        )
        return format_output(is_tuple, [maps] * len(formatted))

    def attribute_all_classes(
        self,
        inputs: torch.Tensor | tuple[torch.Tensor, ...],
        additional_forward_args: Any = None,
        baselines: float = 0.0,
        perturbations_per_eval: int = 64,
    ) -> torch.Tensor:
        """Every class's map from the same masked passes: ``(N, K, H, W)``; channel ``k``
        equals ``attribute(inputs, target=k)``."""
        formatted, _ = format_inputs(inputs)
        return self._maps(
            formatted, None, additional_forward_args, baselines, perturbations_per_eval
        )

    def _maps(
        self,
        inputs: tuple[torch.Tensor, ...],
        target: TargetType,
        additional_forward_args: Any,
        baselines: float,
        per_pass: int,
    ) -> torch.Tensor:
        if not isinstance(per_pass, int) or per_pass < 1:
            raise ValueError(f"perturbations_per_eval must be an integer >= 1, got {per_pass!r}")
        size = inputs[0].shape[-2:]
        if any(x.shape[-2:] != size for x in inputs):
            raise ValueError("every input of a tuple must have the same height and width")
        with preserved_model_state(self.forward_func), torch.no_grad():
            if self.layer is None:
                self.layer = last_spatial_layer(self.forward_func, inputs, additional_forward_args)
            activations, logits = layer_activations(
                self.forward_func, self.layer, inputs, additional_forward_args
            )
            n, channels = activations.shape[:2]
            classes = None
            if target is not None:
                classes = resolve_targets(target, n, logits.shape[1]).to(logits.device)
            masks = channel_masks(activations, size)
            scores = torch.cat(
                [
                    self._masked_scores(
                        inputs, masks, start, per_pass, additional_forward_args, baselines
                    )
                    for start in range(0, n * channels, per_pass)
                ]
            ).view(n, channels, -1)
            if classes is not None:
                scores = scores[torch.arange(n), :, classes.to(scores.device)][..., None]
            weights = torch.softmax(scores, dim=1)  # over the channels: (N, C, K')
            cams = torch.einsum("nck,nchw->nkhw", weights, activations).clamp(min=0)
        return F.interpolate(cams, size=size, mode="bilinear", align_corners=False)

    def _masked_scores(
        self,
        inputs: tuple[torch.Tensor, ...],
        masks: torch.Tensor,
        start: int,
        per_pass: int,
        additional_forward_args: Any,
        baselines: float,
    ) -> torch.Tensor:
        """Scores ``(B, K)`` of the masked images ``start ... start + per_pass`` of the
        flattened (image, channel) pairs."""
        n, channels = masks.shape[:2]
        pairs = torch.arange(start, min(start + per_pass, n * channels), device=masks.device)
        image, channel = pairs // channels, pairs % channels
        mask = masks[image, channel][:, None]
        masked = tuple(mask * x[image] + (1 - mask) * baselines for x in inputs)
        extra = _repeat_args(additional_forward_args, image, n)
        return class_scores(forward_logits(self.forward_func, masked, extra), self.score)


def channel_masks(activations: torch.Tensor, size: torch.Size) -> torch.Tensor:
    """Each channel upsampled to the input's size and scaled to [0, 1] (a flat channel: 0)."""
    up = F.interpolate(activations, size=tuple(size), mode="bilinear", align_corners=False)
    flat = up.flatten(2)
    low, high = flat.amin(2)[..., None, None], flat.amax(2)[..., None, None]
    span = high - low
    return torch.where(span > 0, (up - low) / span.clamp(min=1e-12), torch.zeros_like(up))


def _repeat_args(additional_forward_args: Any, index: torch.Tensor, n: int) -> Any:
    """The extra arguments' per-example tensors (first dimension ``n``) taken at ``index``;
    the rest as given."""
    if additional_forward_args is None:
        return None
    args = (
        additional_forward_args
        if isinstance(additional_forward_args, tuple)
        else (additional_forward_args,)
    )
    return tuple(
        a[index] if isinstance(a, torch.Tensor) and a.dim() > 0 and a.shape[0] == n else a
        for a in args
    )
