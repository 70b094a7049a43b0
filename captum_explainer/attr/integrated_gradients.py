"""Integrated Gradients (Sundararajan et al., ICML 2017): Captum's own computation.

The class below *is* Captum's ``IntegratedGradients`` (a subclass that changes no
number); it only adds the checks every method of this package makes before any work: an
invalid target (out of range, negative, wrong length) fails with ``AssertionError``
naming it, where Captum would raise an ``IndexError`` or silently index from the end, and
NaN or infinite inputs are refused. For one value per pixel (comparison figures,
metrics), reduce its ``(N, C, H, W)`` output with :func:`~captum_explainer.attr.utils.to_pixel_map`.
"""

from __future__ import annotations

from typing import Any

import torch
from captum._utils.typing import BaselineType, TargetType
from captum.attr import IntegratedGradients as CaptumIntegratedGradients
from captum.log import log_usage

from captum_explainer.attr._base import TargetChecked, format_inputs


class IntegratedGradients(CaptumIntegratedGradients):
    """Captum's ``IntegratedGradients`` with the package's target and input checks.

    Args and returns: exactly Captum's (``forward_func``, ``multiply_by_inputs``;
    ``attribute`` returns attributions shaped like the inputs).

    Example:
        >>> import torch
        >>> from captum_explainer import IntegratedGradients
        >>> from captum_explainer.models import synthetic_classifier
        >>> ig = IntegratedGradients(synthetic_classifier())
        >>> ig.attribute(torch.rand(2, 3, 64, 64), target=0, n_steps=8).shape
        torch.Size([2, 3, 64, 64])
    """

    @log_usage()
    def attribute(  # type: ignore[override]
        self,
        inputs: torch.Tensor | tuple[torch.Tensor, ...],
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        n_steps: int = 50,
        method: str = "gausslegendre",
        internal_batch_size: int | None = None,
        return_convergence_delta: bool = False,
    ) -> Any:
        formatted, _ = format_inputs(inputs)
        checked = TargetChecked(self.forward_func, target, formatted[0].shape[0])
        captum_ig = CaptumIntegratedGradients(checked, self.multiplies_by_inputs)
        return captum_ig.attribute.__wrapped__(
            captum_ig,
            inputs,
            baselines=baselines,
            target=target,
            additional_forward_args=additional_forward_args,
            n_steps=n_steps,
            method=method,
            internal_batch_size=internal_batch_size,
            return_convergence_delta=return_convergence_delta,
        )
