"""RISE: Randomized Input Sampling for Explanation (Petsiuk, Das, Saenko, BMVC 2018)."""

from __future__ import annotations

from typing import Any

import torch

from captum_explainer.attr._base import format_inputs
from captum_explainer.attr._masks import MaskedScoreSums, MaskSamplingAttribution, MaskSettings


class RISE(MaskSamplingAttribution):
    """RISE saliency: the expected class score over random masks that keep each pixel.

    ``S_k(u) = 1 / (n_masks * p_keep) * sum_i score_k(F(x masked by M_i)) * M_i(u)``,
    with soft masks made from a coarse random grid (see :func:`_masks.generate_masks`) and
    "masked by M" meaning ``M * x + (1 - M) * baseline``. Black-box: only forward passes.

    :meth:`attribute` (the mask settings of :class:`~captum_explainer.attr._masks.MaskSettings`:
    ``n_masks=4000``, ``grid_size=7``, ``p_keep=0.5``, ``baselines``,
    ``perturbations_per_eval``, ``seed``, ``show_progress``) gives the target's map,
    ``(N, 1, H, W)``; one pass over the masks gives every class's map at the same cost,
    :meth:`attribute_all_classes`.

    Args:
        forward_func: the model, or any function returning ``(N, K)`` logits.
        score: ``"softmax"`` (default, single-label models, as TorchRay), ``"sigmoid"``
            (multi-label models), ``"logit"`` or a callable on ``(N, K)`` logits.

    Example:
        >>> import torch
        >>> from captum_explainer import RISE
        >>> from captum_explainer.models import synthetic_classifier
        >>> images = torch.rand(2, 3, 64, 64)
        >>> rise = RISE(synthetic_classifier(), score="sigmoid")
        >>> rise.attribute(images, target=3, n_masks=64, seed=0).shape
        torch.Size([2, 1, 64, 64])
        >>> rise.attribute_all_classes(images, n_masks=64, seed=0).shape
        torch.Size([2, 8, 64, 64])
    """

    def attribute_all_classes(
        self,
        inputs: torch.Tensor | tuple[torch.Tensor, ...],
        additional_forward_args: Any = None,
        **mask_settings: Any,
    ) -> torch.Tensor:
        """Every class's RISE map from one pass over the masks.

        Args:
            inputs, additional_forward_args: as in :meth:`attribute`.
            **mask_settings: the fields of :class:`~captum_explainer.attr._masks.MaskSettings`.
                With the same ``seed``, channel ``k`` equals ``attribute(inputs, target=k)``.

        Returns:
            ``(N, K, H, W)`` saliency of each class.
        """
        formatted, _ = format_inputs(inputs)
        settings = MaskSettings(**mask_settings)
        return self._run(formatted, None, additional_forward_args, settings, {}, all_classes=True)

    def _maps(
        self, sums: MaskedScoreSums, settings: MaskSettings, options: dict[str, Any]
    ) -> torch.Tensor:
        return sums.score_mask / (sums.n_masks * settings.p_keep)
