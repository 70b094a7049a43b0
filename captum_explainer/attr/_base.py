"""What every attribution method of the package shares.

- :func:`format_inputs` / :func:`format_output`: Captum's tensor-in-tensor-out,
  tuple-in-tuple-out rule, with the input checks every method needs;
- :func:`resolve_targets`: every Captum target form turned into one class per example,
  with an ``AssertionError`` naming the bad value (what Captum's own tests expect);
- :class:`preserved_model_state`: hooks removed, ``training`` flags and ``requires_grad``
  restored on any exit, including an exception;
- :func:`class_scores` (from :mod:`captum_explainer.scores`): how a method turns logits
  into the score it explains.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from captum._utils.common import _format_output, _format_tensor_into_tuples, _is_tuple
from captum._utils.typing import TargetType
from torch import nn

from captum_explainer.models.adapters import output_logits
from captum_explainer.models.explainer_nets import check_explainer_output
from captum_explainer.models.inference import autocast, like_network

#: Input dtypes the methods accept. Half precision is refused: RISE sums thousands of
#: scores per pixel and FGVis compares activations exactly, both too coarse in float16.
ACCEPTED_DTYPES = (torch.float32, torch.float64)


def format_inputs(inputs: Any, name: str = "inputs") -> tuple[tuple[torch.Tensor, ...], bool]:
    """Inputs as a tuple of image batches ``(N, C, H, W)``, and whether a tuple came in.

    Raises:
        ValueError: an input is not a 4-D tensor, batches differ in size, or a value is
            NaN or infinite.
    """
    is_tuple = _is_tuple(inputs)
    formatted = _format_tensor_into_tuples(inputs)
    if not formatted or not all(isinstance(t, torch.Tensor) for t in formatted):
        raise ValueError(f"{name} must be a tensor or a tuple of tensors, got {type(inputs)}")
    for i, tensor in enumerate(formatted):
        where = f"{name}[{i}]" if is_tuple else name
        if tensor.dim() != 4:
            raise ValueError(
                f"{where} must be a batch of images shaped (N, C, H, W), got shape "
                f"{tuple(tensor.shape)}"
            )
        if tensor.shape[0] == 0:
            raise ValueError(
                f"{where} holds no image (shape {tuple(tensor.shape)}); give at least one"
            )
        if tensor.dtype not in ACCEPTED_DTYPES:
            raise ValueError(
                f"{where} has dtype {tensor.dtype}; the methods take float32 or float64 "
                f"images (convert integer images to float and normalise them as the model "
                f"expects; half precision is not supported)"
            )
        # One reduction first (NaN and inf propagate through a sum); the element-wise check
        # only runs to confirm, so finite values that overflow the sum are not refused.
        if not torch.isfinite(tensor.sum()) and not torch.isfinite(tensor).all():
            raise ValueError(
                f"{where} contains NaN or infinite values; only finite values are accepted"
            )
    if len({t.shape[0] for t in formatted}) != 1:
        raise ValueError(f"every tensor of {name} must have the same batch size")
    return formatted, is_tuple


def format_output(is_tuple: bool, outputs: Sequence[torch.Tensor]) -> Any:
    """Captum's rule: a tensor for a tensor input, a tuple for a tuple input."""
    return _format_output(is_tuple, tuple(outputs))


def resolve_targets(target: TargetType, n_examples: int, n_classes: int | None) -> torch.Tensor:
    """Every Captum target form as one class index per example, shape ``(N,)``.

    Accepted: an ``int``; a 1-tuple ``(k,)``; a 0-d or 1-element tensor; a 1-D tensor or
    list with one entry per example; a list of 1-tuples. ``n_classes`` bounds the indices
    when it is known.

    Raises:
        AssertionError: naming the bad value (Captum's convention for invalid targets).
    """
    assert target is not None, "target must be given: an int, a tuple, a tensor or a list"
    if isinstance(target, tuple):
        assert len(target) == 1 and isinstance(target[0], int), (
            f"target tuple {target!r} must hold exactly one class index for a (N, K) output"
        )
        target = target[0]
    if isinstance(target, torch.Tensor):
        assert target.dim() <= 1 and not target.is_floating_point(), (
            f"target tensor must be 0-d or 1-D of integers, got shape {tuple(target.shape)} "
            f"dtype {target.dtype}"
        )
        values = target.reshape(-1).long().cpu()
    elif isinstance(target, int) and not isinstance(target, bool):
        values = torch.tensor([target])
    elif isinstance(target, list):
        assert all(isinstance(t, int) or (isinstance(t, tuple) and len(t) == 1) for t in target), (
            f"target list must hold ints or 1-tuples, got {target!r}"
        )
        values = torch.tensor(
            [t[0] if isinstance(t, tuple) else t for t in target], dtype=torch.long
        )
    else:
        raise AssertionError(f"target type {type(target).__name__} is not valid: {target!r}")
    if values.numel() == 1:
        values = values.expand(n_examples)
    assert values.numel() == n_examples, (
        f"target has {values.numel()} entries for {n_examples} examples; give one per example"
    )
    if n_classes is not None:
        bad = (values < 0) | (values >= n_classes)
        assert not bad.any(), (
            f"target {values[bad].tolist()} out of range: the model has {n_classes} classes "
            f"(0 to {n_classes - 1})"
        )
    return values.clone()


def modules_of(forward_func: Callable) -> list[nn.Module]:
    """The ``nn.Module`` objects behind ``forward_func`` (the module, or a bound method's owner)."""
    owner = (
        forward_func
        if isinstance(forward_func, nn.Module)
        else getattr(forward_func, "__self__", None)
    )
    return list(owner.modules()) if isinstance(owner, nn.Module) else []


@contextmanager
def preserved_model_state(forward_func: Callable) -> Iterator[None]:
    """Restore every module's ``training`` flag and every parameter's ``requires_grad`` on exit."""
    modules = modules_of(forward_func)
    training = [m.training for m in modules]
    params = list({id(p): p for m in modules for p in m.parameters(recurse=False)}.values())
    requires_grad = [p.requires_grad for p in params]
    try:
        yield
    finally:
        # Only touch what changed: setting attributes on every module costs more than the
        # comparison, and most calls change nothing.
        for module, flag in zip(modules, training):
            if module.training != flag:
                module.training = flag
        for param, flag in zip(params, requires_grad):
            if param.requires_grad != flag:
                param.requires_grad_(flag)


@contextmanager
def removable_hooks() -> Iterator[list]:
    """A list to put hook handles in; every handle is removed on exit, error or not."""
    handles: list = []
    try:
        yield handles
    finally:
        for handle in handles:
            handle.remove()


def forward_logits(
    forward_func: Callable, inputs: tuple[torch.Tensor, ...], additional_forward_args: Any = None
) -> torch.Tensor:
    """``forward_func(*inputs, *additional_forward_args)`` checked to be ``(N, K)`` logits."""
    extra = (
        ()
        if additional_forward_args is None
        else (
            additional_forward_args
            if isinstance(additional_forward_args, tuple)
            else (additional_forward_args,)
        )
    )
    return check_logits(forward_func(*inputs, *extra))


def check_logits(output: Any) -> torch.Tensor:
    """The ``(N, K)`` logits in ``output`` (a tensor, or a Hugging Face style output, dict or
    tuple: :func:`~captum_explainer.models.adapters.output_logits`), checked to be finite;
    else a ``ValueError`` saying what came back, or naming the non-finite scores."""
    logits = output_logits(output)
    if isinstance(logits, torch.Tensor) and logits.dim() == 2:
        return check_finite_scores(logits, "the images it was given")
    if isinstance(logits, torch.Tensor):
        what = f"a tensor of shape {tuple(logits.shape)}"
    else:
        what = f"a {type(logits).__name__}"
    raise ValueError(
        f"forward_func must return (N, K) class scores (a tensor, or an output with .logits, "
        f"a dict with 'logits' or a tuple starting with them), got {what}; wrap the model "
        f"so that it returns the logits tensor, e.g. lambda x: model(x)['scores']"
    )


def check_finite_scores(scores: torch.Tensor, what: str) -> torch.Tensor:
    """``scores`` if every value is finite; else a ``ValueError`` naming where they came from
    (a model that returns NaN or infinite logits would otherwise give NaN maps silently)."""
    # One reduction first (NaN and inf propagate through a sum); the element-wise check only
    # runs to confirm, so finite scores whose sum overflows are not refused.
    if not torch.isfinite(scores.detach().sum()) and not torch.isfinite(scores).all():
        bad = int((~torch.isfinite(scores)).sum())
        raise ValueError(
            f"the model returned {bad} non-finite (NaN or infinite) scores for {what}; check "
            f"the model (its weights, or inputs outside what it was trained on)"
        )
    return scores


class TargetChecked:
    """``forward_func`` wrapped so that an invalid target fails with ``AssertionError``
    naming it, checked against the real output width before Captum indexes with it."""

    def __init__(self, forward_func: Callable, target: TargetType, n_examples: int) -> None:
        self.forward_func = forward_func
        self.target = target
        self.n_examples = n_examples

    def __call__(self, *args: Any) -> torch.Tensor:
        output = check_logits(self.forward_func(*args))
        if self.target is not None:
            resolve_targets(self.target, self.n_examples, output.shape[1])
        return output


def network_maps(
    network: nn.Module, inputs: tuple[torch.Tensor, ...], what: str, precision: str = "fp32"
) -> torch.Tensor:
    """One forward pass of a network that predicts a map per class (the Explainer, an
    amortized method): no gradients, its state left as it was, its output checked to be
    ``(N, K, H, W)`` at the input's resolution and finite (errors name ``what``). The input
    takes the network's memory layout, the maps come back in the standard one and in the
    input's dtype; ``precision="bf16"`` runs the pass under bfloat16 autocast."""
    with (
        torch.no_grad(),
        preserved_model_state(network),
        autocast(inputs[0].device, precision),
    ):
        maps = network(*like_network(network, inputs))
    check_explainer_output(maps, inputs[0], what=what)
    maps = maps.to(dtype=inputs[0].dtype, memory_format=torch.contiguous_format)
    return check_finite_scores(maps, f"{what}'s maps")
