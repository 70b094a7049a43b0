"""Fine-grained, gradient-filtered visual explanations, "FGVis" (Wagner et al., CVPR 2019)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from captum._utils.typing import BaselineType, TargetType
from captum.attr import GradientAttribution
from captum.log import log_usage
from tqdm.auto import tqdm

from captum_explainer.attr._base import (
    ScoreType,
    check_score,
    class_scores,
    format_inputs,
    format_output,
    forward_logits,
    modules_of,
    preserved_model_state,
    resolve_targets,
)
from captum_explainer.attr._gradient_filter import GradientFilter
from captum_explainer.attr._masks import format_baselines
from captum_explainer.data._types import IMAGENET_NORMALIZATION, Normalization

GAMES = ("preservation", "deletion")


class FGVis(GradientAttribution):
    """The smallest pixel-and-channel mask that keeps (or destroys) a class score.

    The explanation is ``e = m * x + (1 - m) * r`` with ``m`` shaped like ``x`` and the
    reference ``r`` black. The preservation game minimises ``-score_c(e) + lambda * mean(m)``;
    the deletion game minimises ``score_c(e) - lambda * mean(m)`` (the smallest deletion
    that destroys the score) and returns ``1 - m``. During optimisation every gradient
    through an activation call is filtered by the bounds of the clean pass
    (:class:`~captum_explainer.attr._gradient_filter.GradientFilter`), the paper's defence
    against adversarial evidence; the sparsity term's gradient is not filtered.

    Not from the paper (its optimiser and search are not public; chosen here, see
    docs/methods/fgvis.md): Adam with ``lr=0.1`` on ``m``, clamped to [0, 1] after every
    step, ``n_iter=300`` with early stopping once no mask value moved more than ``tol``
    in an iteration, and the ``"auto"`` lambda search described in :meth:`attribute`.

    Args:
        forward_func: the model (an ``nn.Module`` or a bound method of one: its
            activation modules are hooked). Pass it in ``eval()`` mode.
        normalization: how the model's inputs are normalised; the black reference is
            ``(0 - mean) / std``. Default ImageNet's.
        score: ``"softmax"`` (default), ``"sigmoid"`` (multi-label models), ``"logit"``
            or a callable on ``(N, K)`` logits.
    """

    def __init__(
        self,
        forward_func: Callable,
        normalization: Normalization = IMAGENET_NORMALIZATION,
        score: ScoreType = "softmax",
    ) -> None:
        super().__init__(forward_func)
        modules = modules_of(forward_func)
        if not modules:
            raise ValueError(
                "forward_func must be an nn.Module or a bound method of one: FGVis hooks its "
                f"activation modules; got {type(forward_func).__name__}"
            )
        self.model = modules[0]
        self.normalization = normalization
        self.score = check_score(score)

    @property
    def multiplies_by_inputs(self) -> bool:
        return False

    @log_usage()
    def attribute(
        self,
        inputs: torch.Tensor | tuple[torch.Tensor, ...],
        target: TargetType = None,
        additional_forward_args: Any = None,
        game: str = "preservation",
        l1_weight: float | str = "auto",
        n_iter: int = 300,
        lr: float = 0.1,
        tol: float = 1e-3,
        keep: float = 0.9,
        baselines: BaselineType = None,
        show_progress: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """Optimise one mask per image, all images of the batch together.

        Args:
            inputs: images ``(N, C, H, W)`` (or a tuple of batches, one mask each).
            target: the explained class, in any Captum form.
            additional_forward_args: passed to ``forward_func`` after the inputs.
            game: ``"preservation"`` or ``"deletion"``.
            l1_weight: ``lambda``, a number >= 0 used for every image, or ``"auto"``: each
                image starts at 1.0 and every 10 iterations its lambda is multiplied by 1.5
                while the explanation meets the goal (preservation: ``score(e) >= keep *
                score(x)``; deletion: ``score(e) <= (1 - keep) * score(x)``) and divided
                by 1.5 while it does not, so each image settles at the sparsest mask that
                keeps its explanation's score comparable to its own.
            n_iter: maximum iterations (one forward and backward each).
            lr: Adam's learning rate on the mask.
            tol: stop early once no mask value changed by more than ``tol`` in an iteration.
            keep: the goal of the ``"auto"`` search, in (0, 1).
            baselines: the reference ``r``; default black in the model's normalisation.
            show_progress: show a progress bar over iterations.

        Returns:
            The mask, shaped like each input, values in [0, 1] (for deletion ``1 - m``:
            high where deleting matters). :meth:`explanation` turns it into the
            explanation image, a valid model input.
        """
        formatted, is_tuple = format_inputs(inputs)
        _check_arguments(game, l1_weight, n_iter, lr, keep)
        references = self._references(formatted, baselines)
        n = formatted[0].shape[0]
        with preserved_model_state(self.forward_func), GradientFilter(self.model) as grad_filter:
            clean = grad_filter.record(
                lambda: forward_logits(self.forward_func, formatted, additional_forward_args)
            )
            classes = resolve_targets(target, n, clean.shape[1]).to(clean.device)
            clean_score = _select(class_scores(clean, self.score), classes)
            masks = self._optimise(
                formatted,
                references,
                classes,
                clean_score,
                grad_filter,
                additional_forward_args,
                game,
                l1_weight,
                n_iter,
                lr,
                tol,
                keep,
                show_progress,
            )
        if game == "deletion":
            masks = [1 - m for m in masks]
        return format_output(is_tuple, masks)

    def _references(
        self, inputs: tuple[torch.Tensor, ...], baselines: BaselineType
    ) -> tuple[torch.Tensor, ...]:
        if baselines is not None:
            return tuple(
                b.to(x).expand_as(x)
                if isinstance(b, torch.Tensor)
                else torch.full_like(x, float(b))
                for b, x in zip(format_baselines(baselines, inputs), inputs)
            )
        return tuple(self.normalization.black(x) for x in inputs)

    def _optimise(
        self,
        inputs: tuple[torch.Tensor, ...],
        references: tuple[torch.Tensor, ...],
        classes: torch.Tensor,
        clean_score: torch.Tensor,
        grad_filter: GradientFilter,
        additional_forward_args: Any,
        game: str,
        l1_weight: float | str,
        n_iter: int,
        lr: float,
        tol: float,
        keep: float,
        show_progress: bool,
    ) -> list[torch.Tensor]:
        n = inputs[0].shape[0]
        masks = [torch.ones_like(x, requires_grad=True) for x in inputs]
        optimizer = torch.optim.Adam(masks, lr=lr)
        auto = l1_weight == "auto"
        lam = torch.full((n,), 1.0 if auto else float(l1_weight), device=inputs[0].device)
        sign = 1.0 if game == "preservation" else -1.0
        # Each image stops on its own, so a batch gives the same masks as one image at a time.
        active = torch.ones(n, dtype=torch.bool, device=lam.device)
        previous = [torch.empty_like(x) for x in inputs]  # reused buffers: no allocation per step
        for iteration in tqdm(range(n_iter), desc="FGVis", disable=not show_progress, leave=False):
            with torch.enable_grad():
                # r + m * (x - r) = m * x + (1 - m) * r, in one kernel.
                explanation = tuple(
                    torch.lerp(r, x, m) for m, x, r in zip(masks, inputs, references)
                )
                logits = grad_filter.run(
                    lambda e=explanation: forward_logits(
                        self.forward_func, e, additional_forward_args
                    )
                )
                score = _select(class_scores(logits, self.score), classes)
                sparsity = sum(m.flatten(1).mean(1) for m in masks)
                loss = (-sign * score + sign * lam * sparsity).sum()
                grads = torch.autograd.grad(loss, masks)
            with torch.no_grad():
                for m, b, g in zip(masks, previous, grads):
                    b.copy_(m)
                    m.grad = g
            optimizer.step()
            with torch.no_grad():
                all_active = bool(active.all())
                change = torch.zeros(n, device=lam.device)
                for m, b in zip(masks, previous):
                    m.clamp_(0, 1)
                    if not all_active:
                        m[~active] = b[~active]
                    change = torch.maximum(change, (m - b).flatten(1).abs().amax(1))
                if auto and (iteration + 1) % 10 == 0:
                    if game == "preservation":
                        met = score >= keep * clean_score
                    else:
                        met = score <= (1 - keep) * clean_score
                    lam = torch.where(met, lam * 1.5, lam / 1.5)
                active &= change >= tol
            if not active.any():
                break
        return [m.detach() for m in masks]

    def explanation(
        self,
        inputs: torch.Tensor,
        attributions: torch.Tensor,
        game: str = "preservation",
        baselines: BaselineType = None,
    ) -> torch.Tensor:
        """The explanation image ``m * x + (1 - m) * r`` of a mask from :meth:`attribute`.

        Args:
            inputs: the explained images ``(N, C, H, W)``.
            attributions: the mask :meth:`attribute` returned for them.
            game: the game that produced it (a deletion mask is ``1 - m``).
            baselines: the reference used, default black.

        Returns:
            ``(N, C, H, W)``, a valid input of the model.
        """
        _check_arguments(game, 1.0, 1, 1.0, 0.5)
        (reference,) = self._references((inputs,), baselines)
        m = attributions if game == "preservation" else 1 - attributions
        return torch.lerp(reference, inputs, m)


def _select(scores: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    return scores.gather(1, classes[:, None])[:, 0]


def _check_arguments(
    game: str, l1_weight: float | str, n_iter: int, lr: float, keep: float
) -> None:
    if game not in GAMES:
        raise ValueError(f"game must be one of {list(GAMES)}, got {game!r}")
    if not (l1_weight == "auto" or (isinstance(l1_weight, (int, float)) and l1_weight >= 0)):
        raise ValueError(f"l1_weight must be a number >= 0 or 'auto', got {l1_weight!r}")
    if not isinstance(n_iter, int) or n_iter < 1:
        raise ValueError(f"n_iter must be an integer >= 1, got {n_iter!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if not 0 < keep < 1:
        raise ValueError(f"keep must lie strictly between 0 and 1, got {keep!r}")
