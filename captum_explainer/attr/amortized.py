"""A slow method amortized: its maps predicted in one forward pass (FastSHAP's idea, Jethani
et al. 2022, applied to any attribution method; see :func:`~captum_explainer.fit_amortized`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from captum._utils.typing import TargetType
from captum.attr import Attribution
from captum.log import log_usage
from torch import nn

from captum_explainer.attr._base import (
    format_inputs,
    format_output,
    forward_logits,
    network_maps,
    preserved_model_state,
    resolve_targets,
)


class AmortizedAttribution(Attribution):
    """A network trained to regress a slow method's per-class maps, behind Captum's interface.

    One forward pass of ``network`` gives every class's map, ``(N, K, H, W)``, in the slow
    method's own units (a RISE map's expected score, an occlusion map's score drop); nothing
    is computed from the classifier at run time.

    Args:
        network: the trained network, ``(N, C, H, W) -> (N, K, H, W)`` (see
            :func:`~captum_explainer.models.load_amortized`). Pass it in ``eval()`` mode.
        forward_func: optionally the classifier it explains; then ``target=None`` explains
            each image's top-1 class.
        teacher: the name of the method it imitates (for display).

    Example:
        >>> import torch
        >>> from captum_explainer.attr import AmortizedAttribution
        >>> from captum_explainer.models import synthetic_amortized_rise, synthetic_classifier
        >>> rise = AmortizedAttribution(synthetic_amortized_rise(), synthetic_classifier())
        >>> images = torch.rand(2, 3, 64, 64)
        >>> rise.attribute(images, target=3).shape  # class 3's RISE map, one pass
        torch.Size([2, 1, 64, 64])
        >>> rise.attribute_all_classes(images).shape
        torch.Size([2, 8, 64, 64])
    """

    def __init__(
        self, network: nn.Module, forward_func: Callable | None = None, teacher: str = "RISE"
    ) -> None:
        super().__init__(forward_func if forward_func is not None else network)
        self.network = network
        self.classifier = forward_func
        self.teacher = teacher

    @property
    def multiplies_by_inputs(self) -> bool:
        return False

    @log_usage()
    def attribute(
        self,
        inputs: torch.Tensor | tuple[torch.Tensor, ...],
        target: TargetType = None,
        additional_forward_args: Any = None,
    ) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """The target class's map.

        Args:
            inputs: images ``(N, C, H, W)`` (a 1-tuple is accepted and returned as a tuple).
            target: the explained class in any Captum form; ``None`` needs ``forward_func``
                and explains each image's top-1 class.
            additional_forward_args: passed to ``forward_func`` when ``target`` is None.

        Returns:
            ``(N, 1, H, W)`` maps (a tuple for a tuple input).
        """
        formatted, is_tuple = format_inputs(inputs)
        maps = network_maps(self.network, formatted, f"the amortized {self.teacher}")
        n, k = maps.shape[:2]
        if target is None:
            index = self.predicted_class(formatted, additional_forward_args)
        else:
            index = resolve_targets(target, n, k)
        chosen = maps[torch.arange(n, device=maps.device), index.to(maps.device)][:, None]
        return format_output(is_tuple, [chosen] * len(formatted))

    def attribute_all_classes(self, inputs: torch.Tensor) -> torch.Tensor:
        """Every class's map from the same forward pass: ``(N, K, H, W)``."""
        formatted, _ = format_inputs(inputs)
        return network_maps(self.network, formatted, f"the amortized {self.teacher}")

    def predicted_class(
        self, inputs: tuple[torch.Tensor, ...], additional_forward_args: Any = None
    ) -> torch.Tensor:
        """``(N,)`` the classifier's top-1 class of each image."""
        if self.classifier is None:
            raise ValueError(
                "target=None needs the classifier: AmortizedAttribution(network, forward_func=model)"
            )
        with torch.no_grad(), preserved_model_state(self.classifier):
            return forward_logits(self.classifier, inputs, additional_forward_args).argmax(1)
