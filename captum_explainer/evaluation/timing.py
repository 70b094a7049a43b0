"""Timing and memory measurement, and the bare model passes each method is timed against:
what the comparison and the benchmark share."""

from __future__ import annotations

import math
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from captum_explainer.attr._masks import auto_batch, mask_batches
from captum_explainer.models.inference import like_network


def timed(fn: Callable[[], Any], device: torch.device | str = "cpu") -> tuple[Any, float]:
    """Run ``fn`` once: ``(its value, wall seconds)``, with CUDA work finished inside."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    value = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return value, time.perf_counter() - start


@dataclass
class Timing:
    """Median, fastest and slowest of repeated runs, in seconds."""

    median: float
    low: float
    high: float


def _timing(times: list[float]) -> Timing:
    return Timing(statistics.median(times), min(times), max(times))


@dataclass
class PairedTiming:
    """A method and its bare passes timed in alternation (seconds per call)."""

    method: Timing
    baseline: Timing
    #: The median over repeats of method / baseline, each pair timed back to back.
    ratio: float
    #: Calls per timing sample (a fast call is repeated until a sample lasts long enough).
    calls: tuple[int, int]


def time_paired(
    run: Callable[[], Any],
    baseline: Callable[[], Any],
    repeats: int,
    warmup: int,
    device: torch.device | str = "cpu",
    min_seconds: float = 0.25,
) -> PairedTiming:
    """Time ``run`` and ``baseline`` alternately, ``repeats`` samples each after ``warmup``
    calls of each (at least one: its time sets the calls per sample).

    Alternating puts both under the same conditions (a neighbour's load, the clock, what the
    allocator holds) within each pair, and the overhead ratio is the median of the pairs'
    ratios. A sample repeats its call until it lasts at least ``min_seconds``: a 3 ms call
    is timed over about 80 calls, a 5 s call once, so a fast method's time is as stable as
    a slow one's.
    """
    # The calls per sample follow from one call of each: the last warm-up call's time.
    seconds = (0.0, 0.0)
    for _ in range(max(warmup, 1)):
        seconds = (timed(run, device)[1], timed(baseline, device)[1])
    calls = (_calls_for(seconds[0], min_seconds), _calls_for(seconds[1], min_seconds))
    method_times, baseline_times = [], []
    for _ in range(repeats):
        method_times.append(_sample(run, calls[0], device))
        baseline_times.append(_sample(baseline, calls[1], device))
    ratios = [m / b for m, b in zip(method_times, baseline_times)]
    return PairedTiming(
        _timing(method_times), _timing(baseline_times), statistics.median(ratios), calls
    )


def _calls_for(seconds: float, min_seconds: float) -> int:
    return max(1, math.ceil(min_seconds / max(seconds, 1e-9)))


def _sample(fn: Callable[[], Any], calls: int, device: torch.device | str) -> float:
    """Seconds per call of ``fn``, over ``calls`` calls in a row."""

    def run() -> None:
        for _ in range(calls):
            fn()

    return timed(run, device)[1] / calls


def measure_peak_memory(
    fn: Callable[[], Any], device: torch.device | str = "cpu"
) -> tuple[Any, float]:
    """Run ``fn`` and return ``(its value, peak memory in MB above the level at the start)``.

    On CUDA this is ``torch.cuda.max_memory_allocated``; on the CPU the resident set
    size (RSS), sampled every 2 ms from ``/proc/self/statm`` by a background thread
    (where that file does not exist the peak is reported as NaN).
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
        value = fn()
        torch.cuda.synchronize(device)
        return value, (torch.cuda.max_memory_allocated(device) - start) / 2**20
    if not os.path.exists("/proc/self/statm"):
        return fn(), float("nan")
    start = _rss_bytes()
    peak = [start]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            done.wait(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        value = fn()
    finally:
        done.set()
        sampler.join()
    peak[0] = max(peak[0], _rss_bytes())
    return value, (peak[0] - start) / 2**20


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# ---------------------------------------------------------------- bare model passes
@dataclass(frozen=True)
class BarePasses:
    """The model passes a method cannot avoid (``run``), and what they are (``note``)."""

    run: Callable[[], None]
    note: str


def forward_passes(model: nn.Module, batch: torch.Tensor, count: int) -> Callable[[], None]:
    """``count`` forward passes of ``batch`` without gradients."""

    def run() -> None:
        with torch.no_grad():
            for _ in range(count):
                model(batch)

    return run


def forward_chunks(
    model: nn.Module,
    images: torch.Tensor,
    n_masks: int,
    per_pass: int,
    masks: torch.Tensor | None = None,
) -> Callable[[], None]:
    """The forward passes of a mask-sampling method: ``n_masks`` copies of each image in
    passes of ``per_pass`` copies (the last pass holds the remainder), without gradients.

    ``masks`` ``(per_pass, H, W)``: the copies are the images masked by them (image-major,
    as the method lays them out), made once and reused by every pass. Pass the method's
    own kind of masks: a network's speed on the CPU depends on what it sees (max-pooling
    the shipped small CNN's activations took 4 times longer on unmasked images than on
    masked ones), so unmasked copies would time other passes than the method's.
    """
    if masks is not None:
        copies = (images[:, None] * masks[None, :, None]).flatten(0, 1)
    else:
        copies = images.repeat_interleave(per_pass, dim=0)
    n = images.shape[0]
    rest = n_masks % per_pass
    # The remainder pass holds the first ``rest`` copies of each image.
    partial = copies.unflatten(0, (n, per_pass))[:, :rest].flatten(0, 1) if rest else None

    def run() -> None:
        with torch.no_grad():
            for _ in range(n_masks // per_pass):
                model(copies)
            if partial is not None:
                model(partial)

    return run


def forward_backward_passes(
    model: nn.Module, batch: torch.Tensor, count: int, target: int, layer: nn.Module | None = None
) -> Callable[[], None]:
    """``count`` forward passes with a backward pass of the target score to the input (or
    to ``layer``'s output, where a method needs gradients only that far)."""

    captured: list[torch.Tensor] = []

    def keep(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        captured.append(output)

    def one_pass() -> None:
        with torch.enable_grad():
            if layer is None:
                x = batch.detach().requires_grad_(True)
                torch.autograd.grad(model(x)[:, target].sum(), x)
                return
            captured.clear()
            handle = layer.register_forward_hook(keep)
            try:
                # As Captum does: the input requires grad, so a frozen backbone still
                # carries a graph to the layer.
                score = model(batch.detach().requires_grad_(True))[:, target].sum()
            finally:
                handle.remove()
            torch.autograd.grad(score, captured[0])

    def run() -> None:
        for _ in range(count):
            one_pass()

    return run


def in_sequence(*runs: Callable[[], None]) -> Callable[[], None]:
    """One callable running ``runs`` one after the other."""

    def run() -> None:
        for r in runs:
            r()

    return run


def mask_passes(classifier: nn.Module, images: torch.Tensor, kwargs: dict[str, Any]) -> BarePasses:
    """The bare passes of a mask-sampling method (RISE, undesirable pixels) with the
    ``attribute`` arguments ``kwargs``: ``n_masks`` masked copies of each image, in passes
    of ``perturbations_per_eval``, masked by the method's own first batch of masks (see
    :func:`forward_chunks` on why the images' content matters)."""
    count = kwargs["n_masks"]
    per_pass = auto_batch(kwargs.get("perturbations_per_eval"), images.shape[0])
    masks = next(
        mask_batches(
            per_pass,
            per_pass,
            *images.shape[-2:],
            kwargs.get("grid_size", 7),
            kwargs.get("p_keep", 0.5),
            seed=kwargs.get("seed") or 0,
            device=images.device,
        )
    )
    return BarePasses(
        forward_chunks(classifier, images, count, per_pass, masks),
        f"baseline: {count} x {images.shape[0]} image forwards, {per_pass} x "
        f"{images.shape[0]} per pass",
    )


def network_passes(network: nn.Module, images: torch.Tensor, what: str) -> BarePasses:
    """The bare pass of a method that is one forward of its own trained network: that
    forward on the input in the network's own memory layout (the copy into it, and the maps'
    copy back to the standard layout, are the method's overhead)."""
    (images,) = like_network(network, (images,))
    return BarePasses(forward_passes(network, images, 1), f"baseline: 1 {what} forward")
