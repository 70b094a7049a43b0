"""Grad-CAM at the input's resolution (Selvaraju et al., ICCV 2017)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from captum._utils.typing import TargetType
from captum.attr import GradientAttribution, LayerAttribution, LayerGradCam
from captum.log import log_usage
from torch import nn

from captum_explainer.attr._base import (
    TargetChecked,
    format_inputs,
    format_output,
)


class GradCAM(LayerAttribution, GradientAttribution):
    """Captum's ``LayerGradCam`` with the paper's ReLU, upsampled to the input's size.

    The numbers are exactly ``LayerGradCam(forward_func, layer).attribute(inputs, target,
    relu_attributions=True)`` followed by ``LayerAttribution.interpolate(..., (H, W),
    "bilinear")``: Captum leaves Grad-CAM at the layer's resolution, users compare maps at
    the image's (Captum issues #392 and #473).

    Args:
        forward_func: the model, or a function returning ``(N, K)`` logits.
        layer: the convolutional layer whose activations are weighted; ``None`` uses
            ``forward_func.target_layer`` (this package's models define it).
        device_ids: as Captum's, for ``DataParallel`` models.
    """

    def __init__(
        self,
        forward_func: Callable,
        layer: nn.Module | None = None,
        device_ids: list[int] | None = None,
    ) -> None:
        if layer is None:
            layer = getattr(forward_func, "target_layer", None)
            if layer is None:
                raise ValueError(
                    "layer must be given: forward_func has no target_layer attribute to default to"
                )
        LayerAttribution.__init__(self, forward_func, layer, device_ids)
        GradientAttribution.__init__(self, forward_func)

    @property
    def multiplies_by_inputs(self) -> bool:
        return False

    @log_usage()
    def attribute(
        self,
        inputs: torch.Tensor | tuple[torch.Tensor, ...],
        target: TargetType = None,
        additional_forward_args: Any = None,
        attribute_to_layer_input: bool = False,
        relu_attributions: bool = True,
    ) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """Grad-CAM map of the target class at the input's height and width.

        Args:
            inputs: images ``(N, C, H, W)`` (or a tuple of batches).
            target: the explained class, in any Captum form.
            additional_forward_args: passed to ``forward_func`` after the inputs.
            attribute_to_layer_input: use the layer's input instead of its output.
            relu_attributions: the paper's ReLU on the map (default), as Captum's argument
                of that name. ``False`` keeps the negative part, e.g. for sanity checks on
                randomised models, whose ReLU'd maps are often all zero.

        Returns:
            ``(N, 1, H, W)`` per input tensor (a tuple for a tuple input); non-negative
            with ``relu_attributions=True``.
        """
        formatted, is_tuple = format_inputs(inputs)
        n = formatted[0].shape[0]
        layer_gradcam = LayerGradCam(
            TargetChecked(self.forward_func, target, n), self.layer, self.device_ids
        )
        # No model-state guard here: LayerGradCam changes no training flag or requires_grad
        # and removes its hooks itself on any exit (the conformance tests check both), and
        # the guard's walk over every module would be most of Grad-CAM's own overhead.
        layer_map = layer_gradcam.attribute.__wrapped__(
            layer_gradcam,
            inputs,
            target=target,
            additional_forward_args=additional_forward_args,
            attribute_to_layer_input=attribute_to_layer_input,
            relu_attributions=relu_attributions,
        )
        maps = [
            LayerAttribution.interpolate(
                layer_map.detach(), tuple(x.shape[-2:]), interpolate_mode="bilinear"
            )
            for x in formatted
        ]
        return format_output(is_tuple, maps)
