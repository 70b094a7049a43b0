"""The learned Explainer (Stalder et al., NeurIPS 2022) behind Captum's interface."""

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
from captum_explainer.maps import max_over_classes
from captum_explainer.models.inference import check_precision
from captum_explainer.scores import TASK_SCORES

#: What the Explainer's ``attribute`` returns: the masks, or their logits (for a ranking).
OUTPUTS = ("mask", "logits")


def _output_link(output: str) -> Callable[[torch.Tensor], torch.Tensor]:
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {list(OUTPUTS)}, got {output!r}")
    return torch.sigmoid if output == "mask" else (lambda logits: logits)


class ExplainerAttribution(Attribution):
    """Class-specific masks from a trained Explainer in one forward pass, no gradients.

    Class ``k``'s mask is ``sigmoid(E(x)_k)``, values in [0, 1] at the input's resolution.

    Args:
        explainer: the trained Explainer, ``(N, C, H, W) -> (N, K, H, W)`` logits (see
            :func:`~captum_explainer.models.load_explainer`). Pass it in ``eval()`` mode.
        forward_func: optionally the classifier it explains; then ``target=None`` explains
            the classes the classifier predicts, as the paper does at inference.
        task: what "predicts" means: ``"multilabel"`` (every class with logit >= 0, else the
            top-1) or ``"single-label"`` (the top-1 class of a softmax classifier).
        precision: ``"fp32"`` (default) or ``"bf16"``: the Explainer's pass under bfloat16
            autocast, masks returned in the input's dtype. On a CPU with AVX-512 BF16 (or a
            GPU) it is faster (``resnet18_fpn``, 128 px, batch 16, 2 cores: 127-133 -> 223-252
            images/s), the masks within about 0.01 of float32's (see
            ``captum_explainer.models.inference``). In float32, pass
            ``torch.compile(fold_batch_norms(explainer))`` for the fastest pass
            (``captum_explainer.models.inference.fold_batch_norms``).

    Example:
        >>> import torch
        >>> from captum_explainer import ExplainerAttribution
        >>> from captum_explainer.models import synthetic_classifier, synthetic_explainer
        >>> explainer = ExplainerAttribution(synthetic_explainer(), synthetic_classifier())
        >>> images = torch.rand(2, 3, 64, 64)
        >>> explainer.attribute(images, target=3).shape  # class 3's mask
        torch.Size([2, 1, 64, 64])
        >>> explainer.attribute_all_classes(images).shape  # every class, one pass
        torch.Size([2, 8, 64, 64])
    """

    def __init__(
        self,
        explainer: nn.Module,
        forward_func: Callable | None = None,
        task: str = "multilabel",
        precision: str = "fp32",
    ) -> None:
        super().__init__(forward_func if forward_func is not None else explainer)
        if task not in TASK_SCORES:
            raise ValueError(f"task must be one of {list(TASK_SCORES)}, got {task!r}")
        self.explainer = explainer
        self.classifier = forward_func
        self.task = task
        self.precision = check_precision(precision)

    @property
    def multiplies_by_inputs(self) -> bool:
        return False

    def _logits(self, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return network_maps(self.explainer, inputs, "the Explainer", self.precision)

    @log_usage()
    def attribute(
        self,
        inputs: torch.Tensor | tuple[torch.Tensor, ...],
        target: TargetType = None,
        additional_forward_args: Any = None,
        output: str = "mask",
    ) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """The target class's mask.

        Args:
            inputs: images ``(N, C, H, W)`` (a 1-tuple is accepted and returned as a tuple).
            target: the explained class in any Captum form; ``None`` needs ``forward_func``
                and explains the predicted classes with their max-merged mask: multi-label,
                those with logit >= 0 (the top-1 where none reaches 0); single-label, the top-1.
            additional_forward_args: passed to ``forward_func`` when ``target`` is None.
            output: ``"mask"`` (default) or ``"logits"``: the mask's logits, in the same
                order but without the ties where the sigmoid saturates (float32 rounds every
                logit above about 17 to a mask of exactly 1), for a metric that ranks pixels.

        Returns:
            ``(N, 1, H, W)`` masks in [0, 1], or their logits (a tuple for a tuple input).
        """
        formatted, is_tuple = format_inputs(inputs)
        link = _output_link(output)
        logits = self._logits(formatted)
        n, k = logits.shape[:2]
        if target is None:
            classes = self.predicted_classes(formatted, additional_forward_args)
            if classes.shape[1] != k:
                raise ValueError(
                    f"the classifier has {classes.shape[1]} classes but the Explainer gives {k} masks"
                )
            masks = link(max_over_classes(logits, classes.to(logits.device), float("-inf")))
        else:
            index = resolve_targets(target, n, k).to(logits.device)
            masks = link(logits[torch.arange(n, device=logits.device), index][:, None])
        return format_output(is_tuple, [masks] * len(formatted))

    def attribute_all_classes(self, inputs: torch.Tensor, output: str = "mask") -> torch.Tensor:
        """Every class's mask (or, ``output="logits"``, its logits) from the same forward
        pass: ``(N, K, H, W)``."""
        link = _output_link(output)
        formatted, _ = format_inputs(inputs)
        return link(self._logits(formatted))

    def attribute_classes(self, inputs: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """The max-merged mask of a set of classes per image: the paper's target mask.

        Args:
            inputs: images ``(N, C, H, W)``.
            classes: ``(N, K)`` multi-hot (e.g. the labels); an all-zero row gives a zero mask.

        Returns:
            ``(N, 1, H, W)``, ``sigmoid(max_{k in classes} E(x)_k)``.
        """
        formatted, _ = format_inputs(inputs)
        logits = self._logits(formatted)
        if classes.shape != logits.shape[:2]:
            raise ValueError(
                f"classes must be multi-hot shaped {tuple(logits.shape[:2])}, got {tuple(classes.shape)}"
            )
        return self.merge(logits, classes.to(logits.device))

    @staticmethod
    def merge(logits: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(max_over_classes(logits, classes, empty=float("-inf")))

    def predicted_classes(
        self, inputs: tuple[torch.Tensor, ...], additional_forward_args: Any = None
    ) -> torch.Tensor:
        """Multi-hot ``(N, K)`` of the classes the classifier predicts (multi-label: logit >= 0,
        else the top-1; single-label: the top-1)."""
        if self.classifier is None:
            raise ValueError(
                "target=None needs the classifier: ExplainerAttribution(explainer, forward_func=model)"
            )
        with torch.no_grad(), preserved_model_state(self.classifier):
            logits = forward_logits(self.classifier, inputs, additional_forward_args)
        predicted = logits >= 0
        top1 = torch.zeros_like(predicted).scatter_(1, logits.argmax(1, keepdim=True), True)
        if self.task == "single-label":
            return top1
        return torch.where(predicted.any(1, keepdim=True), predicted, top1)
