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
