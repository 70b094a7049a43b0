"""Undesirable pixels (Kang, Jung, Lee, ICCV workshops 2019), reconstructed from RISE's masks.

The paper's method section could not be read; only its abstract is known. It explains a
black-box classifier with two heatmaps: *factors for the target class* (pixels whose
presence hinders recognising it) and *factors for non-target classes* (regions that make
the image look like other classes). This module is a black-box reconstruction built on
RISE's random masks, not the authors' algorithm; docs/methods/undesirable.md says why.
"""

from __future__ import annotations

from typing import Any

import torch
from captum._utils.typing import BaselineType, TargetType
from captum.log import log_usage

from captum_explainer.attr._base import format_inputs, format_output, resolve_targets
from captum_explainer.attr._masks import MaskedScoreSums
from captum_explainer.attr.rise import MaskSamplingAttribution

MAPS = ("target", "non_target")


class UndesirablePixels(MaskSamplingAttribution):
    """The pixels that hinder the target class, and the ones that pull towards others.

    With RISE's masks ``M_i``, let ``S_k(u)`` be the mean score of class ``k`` over the
    masks that keep pixel ``u`` (weighted by ``M_i(u)``) and ``S0_k(u)`` the mean over the
    masks that remove it (weighted by ``1 - M_i(u)``). Then

    - target factors: ``U_t(u) = max(0, S0_c(u) - S_c(u))``: removing ``u`` raises ``c``;
    - non-target factors: ``U_nt(u) = sum_j w_j * max(0, S_j(u) - S0_j(u))`` over the
      ``top_k`` competing classes ``j`` with the highest score ``w_j`` on the original
      image. Competitors are the classes other than ``c`` that the image does not hold:
      on multi-label data pass ``present`` (the image's labels), so that another object
      of the image is not counted as a class the image is mistaken for.
      Summing over *all* other classes would, with softmax scores (which sum to one),
      only mirror the target's map.

    Args:
        forward_func: the model, or any function returning ``(N, K)`` logits.
        score: ``"softmax"`` (default), ``"sigmoid"`` (multi-label), ``"logit"`` or a callable.
    """

    @log_usage()
    def attribute(
        self,
        inputs: torch.Tensor | tuple[torch.Tensor, ...],
        target: TargetType = None,
        additional_forward_args: Any = None,
        map: str = "target",  # noqa: A002 - the natural name for the user
        top_k: int = 3,
        present: torch.Tensor | None = None,
        n_masks: int = 4000,
        grid_size: int = 7,
        p_keep: float = 0.5,
        baselines: BaselineType = None,
        perturbations_per_eval: int | None = None,
        seed: int | None = None,
        show_progress: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """One of the two undesirable-pixel maps of the target class.

        Args:
            inputs: images ``(N, C, H, W)`` (or a tuple of batches masked alike).
            target: the class being hindered, in any Captum form.
            map: ``"target"`` (factors for the target class) or ``"non_target"``.
            top_k: number of competing classes in the non-target map.
            present: ``(N, K)`` multi-hot labels of the classes each image holds (multi-label
                data); they are never competitors. ``None``: only the target is excluded.
            n_masks, grid_size, p_keep, baselines, perturbations_per_eval, seed,
            show_progress, additional_forward_args: as in :meth:`RISE.attribute`.

        Returns:
            ``(N, 1, H, W)``, non-negative, per input tensor (a tuple for a tuple input).
        """
        if map not in MAPS:
            raise ValueError(f"map must be one of {list(MAPS)}, got {map!r}")
        formatted, is_tuple = format_inputs(inputs)
        maps = self._both(
            formatted,
            target,
            additional_forward_args,
            top_k,
            present,
            n_masks,
            grid_size,
            p_keep,
            baselines,
            perturbations_per_eval,
            seed,
            show_progress,
        )
        return format_output(is_tuple, [maps[map]] * len(formatted))

    def attribute_both(
        self,
        inputs: torch.Tensor,
        target: TargetType = None,
        additional_forward_args: Any = None,
        top_k: int = 3,
        present: torch.Tensor | None = None,
        n_masks: int = 4000,
        grid_size: int = 7,
        p_keep: float = 0.5,
        baselines: BaselineType = None,
        perturbations_per_eval: int | None = None,
        seed: int | None = None,
        show_progress: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Both maps from one pass over the masks: ``{"target": ..., "non_target": ...}``,
        each ``(N, 1, H, W)``. Arguments as in :meth:`attribute`."""
        formatted, _ = format_inputs(inputs)
        return self._both(
            formatted,
            target,
            additional_forward_args,
            top_k,
            present,
            n_masks,
            grid_size,
            p_keep,
            baselines,
            perturbations_per_eval,
            seed,
            show_progress,
        )

    def _both(
        self,
        inputs: tuple[torch.Tensor, ...],
        target: TargetType,
        additional_forward_args: Any,
        top_k: int,
        present: torch.Tensor | None,
        *mask_args: Any,
    ) -> dict[str, torch.Tensor]:
        if not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be an integer >= 1, got {top_k!r}")
        n = inputs[0].shape[0]
        if present is not None and (
            not isinstance(present, torch.Tensor) or present.dim() != 2 or present.shape[0] != n
        ):
            shape = tuple(present.shape) if isinstance(present, torch.Tensor) else type(present)
            raise ValueError(f"present must be an (N, K) = ({n}, K) tensor of labels, got {shape}")

        def target_and_competitors(base_scores: torch.Tensor) -> torch.Tensor:
            n_classes = base_scores.shape[1]
            target_class = resolve_targets(target, n, n_classes).to(base_scores.device)
            others = base_scores.scatter(1, target_class[:, None], float("-inf"))
            if present is not None:
                if present.shape[1] != n_classes:
                    raise ValueError(
                        f"present must have one column per class ({n_classes}), got "
                        f"{present.shape[1]}"
                    )
                others = others.masked_fill(present.to(others.device).bool(), float("-inf"))
            k = min(top_k, n_classes - 1)
            top = others.topk(k, dim=1) if k > 0 else None
            if top is None:
                competitors = others[:, :0].long()
            else:
                # Fewer than k classes may be left: the missing ones point at the target,
                # which _undesirable_maps weighs 0 (the target is never a competitor).
                competitors = torch.where(
                    torch.isfinite(top.values), top.indices, target_class[:, None]
                )
            return torch.cat([target_class[:, None], competitors], dim=1)

        sums = self._mask_pass(inputs, target_and_competitors, additional_forward_args, *mask_args)
        return _undesirable_maps(sums)


def _undesirable_maps(sums: MaskedScoreSums) -> dict[str, torch.Tensor]:
    """Both maps from the sums; class 0 of ``sums`` is the target, the rest competitors."""
    kept = sums.mask.clamp(min=1e-12)
    removed = (sums.n_masks - sums.mask).clamp(min=1e-12)
    s_kept = sums.score_mask / kept  # (N, 1 + k, H, W)
    s_removed = (sums.score[:, :, None, None] - sums.score_mask) / removed
    target_map = (s_removed[:, :1] - s_kept[:, :1]).clamp(min=0)
    # The competitors' weights: their scores on the original image.
    assert sums.classes is not None
    weights = sums.base_scores.gather(1, sums.classes[:, 1:])
    weights = weights.masked_fill(sums.classes[:, 1:] == sums.classes[:, :1], 0.0)
    pull = (s_kept[:, 1:] - s_removed[:, 1:]).clamp(min=0)
    non_target = (weights[:, :, None, None] * pull).sum(1, keepdim=True)
    return {"target": target_map, "non_target": non_target}
