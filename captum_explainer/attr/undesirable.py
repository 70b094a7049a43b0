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
from captum._utils.typing import TargetType

from captum_explainer.attr._base import format_inputs, resolve_targets
from captum_explainer.attr._masks import MaskedScoreSums, MaskSamplingAttribution, MaskSettings

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

    :meth:`attribute` takes the mask settings of
    :class:`~captum_explainer.attr._masks.MaskSettings` (as RISE) and the options:

    - ``map``: ``"target"`` (default, factors for the target class) or ``"non_target"``;
    - ``top_k``: number of competing classes in the non-target map (default 3);
    - ``present``: ``(N, K)`` multi-hot labels of the classes each image holds (multi-label
      data); they are never competitors. ``None``: only the target is excluded.

    It returns ``(N, 1, H, W)``, non-negative; :meth:`attribute_both` gives both maps from
    one pass.

    Args:
        forward_func: the model, or any function returning ``(N, K)`` logits.
        score: ``"softmax"`` (default), ``"sigmoid"`` (multi-label), ``"logit"`` or a callable.

    Example:
        >>> import torch
        >>> from captum_explainer import UndesirablePixels
        >>> from captum_explainer.models import synthetic_classifier
        >>> method = UndesirablePixels(synthetic_classifier(), score="sigmoid")
        >>> maps = method.attribute_both(torch.rand(1, 3, 64, 64), target=0, n_masks=64, seed=0)
        >>> sorted(maps), maps["target"].shape
        (['non_target', 'target'], torch.Size([1, 1, 64, 64]))
    """

    def attribute_both(
        self,
        inputs: torch.Tensor,
        target: TargetType = None,
        additional_forward_args: Any = None,
        top_k: int = 3,
        present: torch.Tensor | None = None,
        **mask_settings: Any,
    ) -> dict[str, torch.Tensor]:
        """Both maps from one pass over the masks: ``{"target": ..., "non_target": ...}``,
        each ``(N, 1, H, W)``. Arguments as in :meth:`attribute`."""
        formatted, _ = format_inputs(inputs)
        options = {**self._options(top_k=top_k, present=present), "map": "both"}
        settings = MaskSettings(**mask_settings)
        return self._run(formatted, target, additional_forward_args, settings, options)

    def _options(
        self,
        map: str = "target",  # noqa: A002 - the natural name for the user
        top_k: int = 3,
        present: torch.Tensor | None = None,
    ) -> dict[str, Any]:
        if map not in MAPS:
            raise ValueError(f"map must be one of {list(MAPS)}, got {map!r}")
        if not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be an integer >= 1, got {top_k!r}")
        if present is not None and (not isinstance(present, torch.Tensor) or present.dim() != 2):
            shape = tuple(present.shape) if isinstance(present, torch.Tensor) else type(present)
            raise ValueError(f"present must be an (N, K) tensor of labels, got {shape}")
        return {"map": map, "top_k": top_k, "present": present}

    def _classes(
        self, target: TargetType, n: int, base_scores: torch.Tensor, options: dict[str, Any]
    ) -> torch.Tensor:
        """The target, then its ``top_k`` competitors, per image."""
        n_classes = base_scores.shape[1]
        target_class = resolve_targets(target, n, n_classes).to(base_scores.device)
        others = base_scores.scatter(1, target_class[:, None], float("-inf"))
        present = options["present"]
        if present is not None:
            if tuple(present.shape) != (n, n_classes):
                raise ValueError(
                    f"present must be an (N, K) = ({n}, {n_classes}) tensor of labels, got "
                    f"{tuple(present.shape)}"
                )
            others = others.masked_fill(present.to(others.device).bool(), float("-inf"))
        k = min(options["top_k"], n_classes - 1)
        if k == 0:
            return target_class[:, None]
        top = others.topk(k, dim=1)
        # Fewer than k classes may be left: the missing ones point at the target, which
        # _undesirable_maps weighs 0 (the target is never a competitor).
        competitors = torch.where(torch.isfinite(top.values), top.indices, target_class[:, None])
        return torch.cat([target_class[:, None], competitors], dim=1)

    def _maps(
        self, sums: MaskedScoreSums, settings: MaskSettings, options: dict[str, Any]
    ) -> torch.Tensor | dict[str, torch.Tensor]:
        maps = _undesirable_maps(sums)
        return maps if options["map"] == "both" else maps[options["map"]]


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
