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
    format_inputs,
    format_output,
    forward_logits,
    modules_of,
    preserved_model_state,
    resolve_targets,
)
from captum_explainer.attr._gradient_filter import GradientFilter
from captum_explainer.attr._masks import format_baselines
from captum_explainer.data.types import IMAGENET_NORMALIZATION, Normalization
from captum_explainer.scores import ScoreType, check_score, class_scores

GAMES = ("preservation", "deletion")


class FGVis(GradientAttribution):
    """The smallest pixel-and-channel mask that keeps (or destroys) a class score.

    The explanation is ``e = m * x + (1 - m) * r`` with ``m`` shaped like ``x`` and the
    reference ``r`` black. With ``phi(e) = -score_c(e)`` and the L1 norm
    ``|m|_1 = sum(m)``, the preservation game minimises ``phi(e) + lambda * |m|_1`` (the
    smallest mask that keeps the class score) and the deletion game maximises it (the
    smallest deletion that destroys the score) and returns ``1 - m``. During optimisation
    every gradient through an activation call is filtered by the bounds of the clean pass
    (:class:`~captum_explainer.attr._gradient_filter.GradientFilter`), the paper's defence
    against adversarial evidence; the sparsity term's gradient is not filtered.

    Optimiser: plain SGD on ``m``, starting from the image (``m = 1``), clamped to [0, 1]
    after every step, as in the paper. Not from the paper (not stated in it; chosen here,
    see docs/methods/fgvis.md): each image's step size is ``lr`` divided by the largest
    entry of ``phi``'s gradient on the image itself (so ``lr`` is the largest first step
    whatever the model's scale), ``n_iter=300`` with early stopping once no mask value
    moved more than ``tol``, and the ``"auto"`` lambda search described in
    :meth:`attribute`. After an ``"auto"`` call, :attr:`last_goal_met` holds, per image,
    whether the returned mask met the search's goal.

    Args:
        forward_func: the model (an ``nn.Module`` or a bound method of one: its
            activation modules are hooked). Pass it in ``eval()`` mode.
        normalization: how the model's inputs are normalised; the black reference is
            ``(0 - mean) / std``. Default ImageNet's.
        score: ``"softmax"`` (default), ``"sigmoid"`` (multi-label models), ``"logit"``
            or a callable on ``(N, K)`` logits.

    Example:
        >>> import torch
        >>> from captum_explainer import FGVis
        >>> from captum_explainer.data import SYNTHETIC_NORMALIZATION
        >>> from captum_explainer.models import synthetic_classifier
        >>> fgvis = FGVis(synthetic_classifier(), SYNTHETIC_NORMALIZATION, score="sigmoid")
        >>> masks = fgvis.attribute(torch.rand(2, 3, 64, 64), target=4, n_iter=5)
        >>> masks.shape, bool(masks.min() >= 0 and masks.max() <= 1)
        (torch.Size([2, 3, 64, 64]), True)
    """

    def __init__(
        self,
        forward_func: Callable,
        normalization: Normalization = IMAGENET_NORMALIZATION,
        score: ScoreType = "softmax",
    ) -> None:
        super().__init__(forward_func)
        modules = modules_of(forward_func)
        if any(isinstance(module, torch.jit.ScriptModule) for module in modules):
            raise ValueError(
                f"forward_func is a TorchScript module ({type(modules[0]).__name__}); FGVis "
                f"filters gradients with module hooks, which cannot reach inside TorchScript "
                f"modules: pass the original nn.Module instead"
            )
        if not modules:
            raise ValueError(
                "forward_func must be an nn.Module or a bound method of one: FGVis hooks its "
                f"activation modules; got {type(forward_func).__name__}"
            )
        self.model = modules[0]
        self.normalization = normalization
        self.score = check_score(score)
        #: After an ``l1_weight="auto"`` call, ``(N,)`` booleans: the returned mask met the
        #: goal. ``None`` after a call with a fixed lambda.
        self.last_goal_met: torch.Tensor | None = None

    @property
    def multiplies_by_inputs(self) -> bool:
        return False

    @log_usage()
    def attribute(
        self,
        inputs: torch.Tensor | tuple[torch.Tensor, ...],
        target: TargetType = None,
        additional_forward_args: Any = None,
        game: str = "deletion",
        l1_weight: float | str = "auto",
        n_iter: int = 300,
        lr: float = 0.05,
        tol: float = 1e-3,
        keep: float = 0.9,
        baselines: BaselineType = None,
        filter_gradients: bool = True,
        show_progress: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """Optimise one mask per image, all images of the batch together.

        Args:
            inputs: images ``(N, C, H, W)`` (or a tuple of batches, one mask each).
            target: the explained class, in any Captum form.
            additional_forward_args: passed to ``forward_func`` after the inputs.
            game: ``"deletion"`` (default: the smallest deletion that destroys the score,
                returned as ``1 - m``) or ``"preservation"`` (the smallest mask that keeps
                it). The default is the game that localises on the package's classifiers: on
                the shipped one the preservation game's masks are a uniformly dimmed copy of
                the image (object/background coverage 0.91; docs/methods/fgvis.md).
            l1_weight: the paper's ``lambda`` (weight of ``|m|_1 = sum(m)``, the score being
                in [0, 1] for softmax and sigmoid), a number >= 0 used for every image, or
                ``"auto"``: each image starts where the L1 pull equals the mean pull of the
                score on the image, and every 10 iterations its lambda is multiplied by 1.5
                while the explanation meets the goal (preservation: ``score(e) >= keep *
                score(x)``; deletion: ``score(e) <= (1 - keep) * score(x)``) and divided
                by 1.5 while it does not. The smallest mask that met the goal at any
                iteration is returned; where none did, the last iterate, and
                :attr:`last_goal_met` says which images met it.
            n_iter: maximum iterations (one forward and backward each).
            lr: the largest step of the first iteration: each image's SGD learning rate is
                ``lr / max|d phi / d m|`` at ``m = 1``.
            tol: an image stops once no mask value changed by more than ``tol`` in an
                iteration.
            keep: the goal of the ``"auto"`` search, in (0, 1).
            baselines: the reference ``r``; default black in the model's normalisation.
            filter_gradients: the paper's defence (default). ``False`` optimises with the
                raw gradient, only to see what the defence prevents (adversarial masks).
            show_progress: show a progress bar over iterations.

        Returns:
            The mask, shaped like each input, values in [0, 1] (for deletion ``1 - m``:
            high where deleting matters). :meth:`explanation` turns it into the
            explanation image, a valid model input.
        """
        formatted, is_tuple = format_inputs(inputs)
        _check_arguments(game, l1_weight, n_iter, lr, keep, tol)
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
                filter_gradients,
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
        filter_gradients: bool,
        show_progress: bool,
    ) -> list[torch.Tensor]:
        n = inputs[0].shape[0]
        device = inputs[0].device
        masks = [torch.ones_like(x, requires_grad=True) for x in inputs]
        auto = l1_weight == "auto"
        # +1: preservation minimises phi + lambda |m|_1; -1: deletion maximises it, i.e.
        # minimises score - lambda |m|_1 (phi = -score in both games).
        sign = 1.0 if game == "preservation" else -1.0
        lam = torch.full((n,), 0.0 if auto else float(l1_weight), device=device)
        rate = torch.zeros(n, device=device)
        search = _FeasibleMasks(masks, game, keep, clean_score) if auto else None
        active = torch.ones(n, dtype=torch.bool, device=device)
        removal = [r - x for x, r in zip(inputs, references)]
        previous = [torch.empty_like(x) for x in inputs] if tol > 0 else [None] * len(inputs)
        run = grad_filter.run if filter_gradients else (lambda forward: forward())
        for iteration in tqdm(range(n_iter), desc="FGVis", disable=not show_progress, leave=False):
            with torch.enable_grad():
                explanation = tuple(
                    _explain(x, r_minus_x, m) for m, x, r_minus_x in zip(masks, inputs, removal)
                )
                logits = run(
                    lambda e=explanation: forward_logits(
                        self.forward_func, e, additional_forward_args
                    )
                )
                score = _select(class_scores(logits, self.score), classes)
                # Only phi's gradient passes through the filter; the L1 term's is added below.
                phi_grads = torch.autograd.grad((-sign * score).sum(), masks)
            with torch.no_grad():
                if iteration == 0:
                    # At m = 1 the filter lets everything through: phi's true gradient on
                    # the image itself sets each image's SGD step size once, for good.
                    rate = lr / _per_image(phi_grads, "amax").clamp(min=1e-30)
                    if auto:
                        # Start where the L1 pull equals phi's mean pull per mask value.
                        lam = _per_image(phi_grads, "mean").clamp(min=1e-30)
                if search is not None:
                    met = search.update(masks, score, active)
                    if iteration > 0 and iteration % 10 == 0:
                        lam = torch.where(met, lam * 1.5, lam / 1.5)
                step = rate * active
                change = torch.zeros(n, device=device)
                for m, g, before in zip(masks, phi_grads, previous):
                    shape = (-1,) + (1,) * (g.dim() - 1)
                    if tol > 0:
                        before.copy_(m)
                    # d |m|_1 / dm = 1 on [0, 1]: the sparsity gradient reaches m unfiltered.
                    g.add_(lam.view(shape), alpha=sign)
                    m.addcmul_(step.view(shape), g, value=-1).clamp_(0, 1)
                    if tol > 0:
                        change = torch.maximum(change, (m - before).flatten(1).abs().amax(1))
                if tol > 0:
                    active &= change >= tol
            if not active.any():
                break
        if search is None:
            self.last_goal_met = None
            return [m.detach() for m in masks]
        with torch.no_grad():
            explanation = tuple(
                _explain(x, r_minus_x, m) for m, x, r_minus_x in zip(masks, inputs, removal)
            )
            logits = forward_logits(self.forward_func, explanation, additional_forward_args)
            final_score = _select(class_scores(logits, self.score), classes)
            search.update(masks, final_score, torch.ones_like(active))
        self.last_goal_met = search.met
        return search.result(masks)

    def explanation(
        self,
        inputs: torch.Tensor,
        attributions: torch.Tensor,
        game: str = "deletion",
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
        return _explain(inputs, reference - inputs, m)


def _explain(x: torch.Tensor, r_minus_x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """``m * x + (1 - m) * r`` written as ``x + (1 - m) * (r - x)``: exactly ``x`` where
    ``m = 1`` (``lerp(r, x, m)`` can be one rounding off), so that at the start the
    gradient filter sees the image's own activations and lets everything through."""
    return torch.addcmul(x, 1 - m, r_minus_x)


def _select(scores: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    return scores.gather(1, classes[:, None])[:, 0]


class _FeasibleMasks:
    """The ``"auto"`` search's memory: per image, the smallest mask that met the goal.

    Preservation's goal is ``score(e) >= keep * score(x)`` and its size the kept share
    ``mean(m)``; deletion's goal is ``score(e) <= (1 - keep) * score(x)`` and its size the
    deleted share ``mean(1 - m)``.
    """

    def __init__(
        self, masks: list[torch.Tensor], game: str, keep: float, clean_score: torch.Tensor
    ) -> None:
        self.game = game
        self.keep = keep
        self.clean_score = clean_score
        self.best = [m.detach().clone() for m in masks]
        self.best_size = torch.full_like(clean_score, float("inf"))
        self.met = torch.zeros_like(clean_score, dtype=torch.bool)

    def update(
        self, masks: list[torch.Tensor], score: torch.Tensor, active: torch.Tensor
    ) -> torch.Tensor:
        """Keep the masks (whose explanations scored ``score``) that beat the best so far."""
        if self.game == "preservation":
            met = score >= self.keep * self.clean_score
        else:
            met = score <= (1 - self.keep) * self.clean_score
        kept = torch.stack([m.detach().flatten(1).mean(1) for m in masks]).mean(0)
        size = kept if self.game == "preservation" else 1 - kept
        better = met & active & (size < self.best_size)
        if bool(better.any()):
            for best, m in zip(self.best, masks):
                best.copy_(torch.where(self._expand(better, best), m.detach(), best))
        self.best_size = torch.where(better, size, self.best_size)
        self.met |= met & active
        return met

    def result(self, masks: list[torch.Tensor]) -> list[torch.Tensor]:
        """The best masks; the last iterate where no mask met the goal."""
        return [
            torch.where(self._expand(self.met, best), best, m.detach())
            for best, m in zip(self.best, masks)
        ]

    @staticmethod
    def _expand(per_image: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """``(N,)`` booleans broadcast to ``like``'s ``(N, ...)`` shape."""
        return per_image.view((-1,) + (1,) * (like.dim() - 1)).expand_as(like)


def _per_image(grads: tuple[torch.Tensor, ...], reduction: str) -> torch.Tensor:
    """``amax`` or ``mean`` of ``|g|`` per image, over every input tensor's gradient."""
    values = torch.stack([getattr(g.flatten(1).abs(), reduction)(1) for g in grads])
    return values.amax(0) if reduction == "amax" else values.mean(0)


def _check_arguments(
    game: str, l1_weight: float | str, n_iter: int, lr: float, keep: float, tol: float = 0.0
) -> None:
    if game not in GAMES:
        raise ValueError(f"game must be one of {list(GAMES)}, got {game!r}")
    if not (l1_weight == "auto" or (isinstance(l1_weight, (int, float)) and l1_weight >= 0)):
        raise ValueError(f"l1_weight must be a number >= 0 or 'auto', got {l1_weight!r}")
    if not isinstance(n_iter, int) or n_iter < 1:
        raise ValueError(f"n_iter must be an integer >= 1, got {n_iter!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0, got {tol!r}")
    if not 0 < keep < 1:
        raise ValueError(f"keep must lie strictly between 0 and 1, got {keep!r}")
