"""RISE: Randomized Input Sampling for Explanation (Petsiuk, Das, Saenko, BMVC 2018)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from captum._utils.typing import BaselineType, TargetType
from captum.attr import PerturbationAttribution
from captum.log import log_usage

from captum_explainer.attr._base import (
    format_inputs,
    format_output,
    preserved_model_state,
    resolve_targets,
)
from captum_explainer.attr._masks import (
    MaskedScoreSums,
    auto_batch,
    check_mask_arguments,
    format_baselines,
    masked_score_sums,
)
from captum_explainer.scores import ScoreType, check_score


class MaskSamplingAttribution(PerturbationAttribution):
    """Shared by RISE and undesirable-pixel maps: one pass of the model over random masks.

    Args:
        forward_func: the model, or any function returning ``(N, K)`` logits.
        score: how logits become the explained score: ``"softmax"`` (default, single-label
            models, as TorchRay), ``"sigmoid"`` (multi-label models), ``"logit"`` or a callable.
    """

    def __init__(self, forward_func: Callable, score: ScoreType = "softmax") -> None:
        super().__init__(forward_func)
        self.score = check_score(score)

    @property
    def multiplies_by_inputs(self) -> bool:
        return False

    def _mask_pass(
        self,
        inputs: tuple[torch.Tensor, ...],
        select: Callable[[torch.Tensor], torch.Tensor] | None,
        additional_forward_args: Any,
        n_masks: int,
        grid_size: int,
        p_keep: float,
        baselines: BaselineType,
        perturbations_per_eval: int | None,
        seed: int | None,
        show_progress: bool,
    ) -> MaskedScoreSums:
        perturbations_per_eval = auto_batch(perturbations_per_eval, inputs[0].shape[0])
        check_mask_arguments(n_masks, grid_size, p_keep, perturbations_per_eval, seed)
        formatted_baselines = format_baselines(baselines, inputs)
        with preserved_model_state(self.forward_func):
            return masked_score_sums(
                self.forward_func,
                inputs,
                formatted_baselines,
                select,
                self.score,
                n_masks,
                grid_size,
                p_keep,
                perturbations_per_eval,
                seed,
                additional_forward_args,
                show_progress,
            )


class RISE(MaskSamplingAttribution):
    """RISE saliency: the expected class score over random masks that keep each pixel.

    ``S_k(u) = 1 / (n_masks * p_keep) * sum_i score_k(F(x masked by M_i)) * M_i(u)``,
    with soft masks made from a coarse random grid (see :func:`_masks.generate_masks`) and
    "masked by M" meaning ``M * x + (1 - M) * baseline``. Black-box: only forward passes.

    One pass over the masks gives every class's map; :meth:`attribute` keeps the target's,
    :meth:`attribute_all_classes` returns all of them at the same cost.

    Args:
        forward_func: the model, or any function returning ``(N, K)`` logits.
        score: ``"softmax"`` (default, single-label models, as TorchRay), ``"sigmoid"``
            (multi-label models), ``"logit"`` or a callable on ``(N, K)`` logits.
    """

    @log_usage()
    def attribute(
        self,
        inputs: torch.Tensor | tuple[torch.Tensor, ...],
        target: TargetType = None,
        additional_forward_args: Any = None,
        n_masks: int = 4000,
        grid_size: int = 7,
        p_keep: float = 0.5,
        baselines: BaselineType = None,
        perturbations_per_eval: int | None = None,
        seed: int | None = None,
        show_progress: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """RISE map of the target class.

        Args:
            inputs: images ``(N, C, H, W)``, or a tuple of such batches masked alike.
            target: the explained class, in any Captum form (required: RISE explains a class).
            additional_forward_args: passed to ``forward_func`` after the inputs; tensors
                with a batch dimension are expanded alongside the masked images.
            n_masks: number of random masks (4000 by default; 8000 is also common).
            grid_size: cells per side of the random grid.
            p_keep: probability that a cell is kept, in (0, 1).
            baselines: what masked pixels become (Captum's forms; default zeros, i.e. the
                dataset's mean colour for normalised inputs).
            perturbations_per_eval: masks per forward pass (each pass holds ``N`` times as
                many images); memory grows with it, never with ``n_masks``. ``None``
                (default): ``64 // N`` (at least 1), about 64 images per pass.
            seed: seed of the masks, an integer >= 0: mask ``i`` depends on ``(seed, i)``
                only, so the same seed gives the same map whatever the number of images,
                ``perturbations_per_eval`` or device. ``None`` draws one from torch's
                global generator, so ``torch.manual_seed`` fixes it too.
            show_progress: show a progress bar over the mask batches.

        Returns:
            ``(N, 1, H, W)`` saliency per input tensor (a tuple for a tuple input).
        """
        formatted, is_tuple = format_inputs(inputs)
        n = formatted[0].shape[0]

        def target_class(base_scores: torch.Tensor) -> torch.Tensor:
            return resolve_targets(target, n, base_scores.shape[1])[:, None]

        sums = self._mask_pass(
            formatted,
            target_class,
            additional_forward_args,
            n_masks,
            grid_size,
            p_keep,
            baselines,
            perturbations_per_eval,
            seed,
            show_progress,
        )
        saliency = sums.score_mask / (sums.n_masks * p_keep)
        return format_output(is_tuple, [saliency] * len(formatted))

    def attribute_all_classes(
        self,
        inputs: torch.Tensor | tuple[torch.Tensor, ...],
        additional_forward_args: Any = None,
        n_masks: int = 4000,
        grid_size: int = 7,
        p_keep: float = 0.5,
        baselines: BaselineType = None,
        perturbations_per_eval: int | None = None,
        seed: int | None = None,
        show_progress: bool = False,
    ) -> torch.Tensor:
        """Every class's RISE map from one pass over the masks.

        Arguments as in :meth:`attribute`. With the same ``seed``, channel ``k`` equals
        ``attribute(inputs, target=k, seed=seed)``.

        Returns:
            ``(N, K, H, W)`` saliency of each class.
        """
        formatted, _ = format_inputs(inputs)
        sums = self._mask_pass(
            formatted,
            None,
            additional_forward_args,
            n_masks,
            grid_size,
            p_keep,
            baselines,
            perturbations_per_eval,
            seed,
            show_progress,
        )
        return sums.score_mask / (sums.n_masks * p_keep)
