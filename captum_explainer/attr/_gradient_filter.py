"""FGVis's defence against adversarial evidence (Wagner et al., CVPR 2019): gradient filtering.

A clean forward pass of the image ``x`` records, at every call of an activation module,
the bounds ``lower = min(0, h(x))`` and ``upper = max(0, h(x))``. In later passes on the
explanation ``e`` the forward values are untouched, but the gradient flowing back through
each call is multiplied by ``lower <= h(e) <= upper``: a neuron carries gradient only where
it does not fire beyond what it did on the original image, so the optimiser cannot create
new evidence. Bounds are kept per *call*, not per module, because torchvision's ResNet
blocks call one ``nn.ReLU`` module several times.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

#: The activation modules whose calls are filtered. Functional activations
#: (``torch.relu``, ``F.relu``) are invisible to module hooks and are not filtered.
ACTIVATIONS: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU,
    nn.SiLU, nn.Mish, nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid,
    nn.Softplus, nn.LogSigmoid, nn.Softsign, nn.Tanhshrink,
)  # fmt: skip

#: Activations whose outputs are never negative: their lower bound ``min(0, h(x))`` is 0 and
#: always met, so the filter needs only ``h(e) <= upper`` (one comparison instead of two).
NONNEGATIVE: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.Sigmoid, nn.Hardsigmoid, nn.Softplus,
)  # fmt: skip


class GradientFilter:
    """Records activation bounds on a clean pass, then filters gradients of later passes.

    Use :meth:`record` once with the original images, then call :meth:`run` for each
    optimisation pass; :meth:`close` (or the ``with`` block) removes every hook.

    Args:
        model: the module whose activation calls are filtered.

    Raises:
        ValueError: the model holds none of :data:`ACTIVATIONS`.
    """

    def __init__(self, model: nn.Module) -> None:
        self.modules = [m for m in model.modules() if isinstance(m, ACTIVATIONS)]
        if not self.modules:
            raise ValueError(
                f"FGVis found no activation module in {type(model).__name__} to filter; it "
                f"filters calls of {', '.join(a.__name__ for a in ACTIVATIONS[:4])}, ... modules. "
                f"Functional activations (F.relu, torch.relu) are not visible to it: use "
                f"nn.ReLU modules"
            )
        # Per call: (lower, upper), lower None where the activation is never negative.
        self.bounds: list[tuple[torch.Tensor | None, torch.Tensor]] = []
        self._handles: list = []
        self._mode = "idle"
        self._call = 0
        self._calls_per_pass = 0

    def __enter__(self) -> GradientFilter:
        for module in self.modules:
            self._handles.append(module.register_forward_hook(self._hook))
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _hook(self, module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        if self._mode == "record":
            detached = output.detach()
            lower = None if isinstance(module, NONNEGATIVE) else detached.clamp(max=0)
            self.bounds.append((lower, detached.clamp(min=0)))
            self._recorded_outputs.append(output)
        elif self._mode == "filter":
            if self._call >= self._calls_per_pass:
                raise RuntimeError(
                    "the model made more activation calls than on the clean pass; FGVis "
                    "needs the same computation for the image and its explanation"
                )
            self._call += 1
            if self._call > len(self.bounds):
                return  # the output layer's activation: not filtered
            lower, upper = self.bounds[self._call - 1]
            if output.requires_grad:
                # The indicator of lower <= h(e) <= upper, written straight into a tensor of
                # the gradient's dtype: comparisons with a boolean result, and a product of
                # a boolean with a float, are each 2-4x slower on the CPU than this.
                value = output.detach()
                inside = torch.empty_like(value)
                if lower is None:
                    torch.le(value, upper, out=inside)
                else:  # as "clamping changes nothing"
                    torch.eq(torch.clamp(value, lower, upper), value, out=inside)
                output.register_hook(lambda grad: grad * inside)

    def record(self, forward: Callable[[], torch.Tensor]) -> torch.Tensor:
        """Run the clean pass ``forward()`` and keep the bounds of every activation call.

        The call whose output *is* the model's output (an activation applied as the
        output layer) is not filtered, as in the paper.

        Returns:
            The model's output on the clean pass.
        """
        self.bounds = []
        self._recorded_outputs: list[torch.Tensor] = []
        self._mode = "record"
        try:
            with torch.no_grad():
                output = forward()
        finally:
            self._mode = "idle"
        self._calls_per_pass = len(self.bounds)
        if self._recorded_outputs and self._recorded_outputs[-1] is output:
            self.bounds.pop()
        self._recorded_outputs = []
        if not self.bounds:
            raise ValueError(
                "FGVis found no activation call on the forward pass to filter (modules "
                "exist but were not called, or only the output layer is an activation)"
            )
        return output

    def run(self, forward: Callable[[], torch.Tensor]) -> torch.Tensor:
        """Run ``forward()`` with the gradient of every recorded call filtered."""
        self._mode = "filter"
        self._call = 0
        try:
            output = forward()
        finally:
            self._mode = "idle"
        return output
