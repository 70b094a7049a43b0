"""Timing and memory measurement: the one helper the comparison and the benchmark share."""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


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


def time_repeats(
    fn: Callable[[], Any], repeats: int, warmup: int, device: torch.device | str = "cpu"
) -> Timing:
    """:class:`Timing` of ``fn`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = [timed(fn, device)[1] for _ in range(repeats)]
    return Timing(statistics.median(times), min(times), max(times))


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
    model: nn.Module, images: torch.Tensor, n_masks: int, per_pass: int
) -> Callable[[], None]:
    """The forward passes of a mask-sampling method: ``n_masks`` copies of each image in
    passes of ``per_pass`` copies (the last pass holds the remainder), without gradients."""
    full = images.repeat_interleave(per_pass, dim=0)
    rest = n_masks % per_pass
    partial = images.repeat_interleave(rest, dim=0) if rest else None

    def run() -> None:
        with torch.no_grad():
            for _ in range(n_masks // per_pass):
                model(full)
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
