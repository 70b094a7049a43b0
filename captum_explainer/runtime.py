"""Process-wide settings that make PyTorch faster on the CPU, applied by the command line.

glibc's ``malloc`` serves every block above its mmap threshold (128 KiB to 32 MiB, adjusted
as it goes) with a fresh ``mmap`` and gives it back to the system on ``free``. A CNN's
activations are such blocks, so every forward pass on the CPU maps, zero-fills and unmaps
them again: on the 2-core machine of docs/performance.md the shipped small CNN spent about
45 % of its time in those page faults and a ResNet-18 training step 40 % (0.60 s against
0.37 s), and the cost varied from run to run. Keeping freed memory for reuse removes it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

#: ``mallopt`` parameters (glibc's ``malloc.h``).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3

#: Blocks up to this size come from the heap (and are reused) instead of a fresh ``mmap``.
MMAP_THRESHOLD = 1 << 30

_ENVIRONMENT = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def reuse_freed_memory(mmap_threshold: int = MMAP_THRESHOLD) -> bool:
    """Make glibc keep freed memory for reuse instead of returning it to the system.

    Sets ``M_MMAP_THRESHOLD`` to ``mmap_threshold`` and ``M_TRIM_THRESHOLD`` to its largest
    value, so that the resident memory stays at the process's peak instead of being mapped
    afresh for every pass. Call it once, early, in a process that runs models on the CPU
    (the ``captum-explainer`` command does). It changes nothing where the C library is not
    glibc, or where the user chose the thresholds (``MALLOC_MMAP_THRESHOLD_`` or
    ``MALLOC_TRIM_THRESHOLD_`` set in the environment).

    Returns:
        Whether the settings were applied.

    Example:
        >>> from captum_explainer.runtime import reuse_freed_memory
        >>> applied = reuse_freed_memory()  # once, at the start of a CPU job
    """
    if not isinstance(mmap_threshold, int) or mmap_threshold < 1:
        raise ValueError(f"mmap_threshold must be an integer >= 1, got {mmap_threshold!r}")
    if any(name in os.environ for name in _ENVIRONMENT):
        return False
    mallopt = _glibc_mallopt()
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(
        mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)
    )


def _glibc_mallopt():  # noqa: ANN202 - a ctypes function or None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # only glibc has it  # noqa: B018
    except (OSError, AttributeError):
        return None
    mallopt = libc.mallopt
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt
