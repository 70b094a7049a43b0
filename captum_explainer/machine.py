"""What the machine offers: its torch devices, its CPU's native bfloat16, and a description
of it that goes with every timing.

Every command that takes ``--device`` checks it here first, so that a device that is not
there is named as the problem (``cuda`` without CUDA, ``cuda:3`` beside one GPU, ``mps``
off a Mac, a misspelling), instead of surfacing later as an unreadable checkpoint.

bfloat16 autocast pays on a CPU only where the CPU computes in bfloat16 natively (AVX-512
BF16 or AMX): there it was 1.7-1.9x faster than float32 for the ``resnet18_fpn`` Explainer;
on CPUs without it (many AMD EPYC machines among them) PyTorch emulates it and the pass is
several times slower, so ``precision="bf16"`` warns there (:func:`warn_if_slow_precision`).
"""

from __future__ import annotations

import functools
import os
import platform
import warnings
from typing import Any

import torch

#: The device types :func:`check_device` knows how to look for.
DEVICE_TYPES = ("cpu", "cuda", "mps")


def available_devices() -> list[str]:
    """The devices this process can use: ``"cpu"``, each ``"cuda:i"``, and ``"mps"``.

    Example:
        >>> from captum_explainer.machine import available_devices
        >>> available_devices()[0]
        'cpu'
    """
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _mps_available():
        devices.append("mps")
    return devices


def check_device(device: str | torch.device, argument: str = "device") -> torch.device:
    """``device`` as a ``torch.device`` this machine has, or a ``ValueError`` that names
    ``argument``, the value, what is missing and the devices there are.

    Example:
        >>> from captum_explainer.machine import check_device
        >>> check_device("cpu")
        device(type='cpu')
        >>> check_device("gpu")
        Traceback (most recent call last):
            ...
        ValueError: device 'gpu' is not a torch device name (cpu, cuda, cuda:N, mps); this machine has: ['cpu'...]
    """
    here = available_devices()
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"{argument} {str(device)!r} is not a torch device name (cpu, cuda, cuda:N, mps); "
            f"this machine has: {here}"
        ) from error
    if parsed.type == "cpu":
        return parsed
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            why = (
                "this PyTorch is built without CUDA"
                if torch.version.cuda is None
                else "no CUDA GPU is visible to this process (driver, CUDA_VISIBLE_DEVICES)"
            )
            raise ValueError(f"{argument} {str(device)!r}: {why}; this machine has: {here}")
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise ValueError(
                f"{argument} {str(device)!r}: this machine has {count} CUDA device"
                f"{'s' if count != 1 else ''} (cuda:0 to cuda:{count - 1}); it has: {here}"
            )
        return parsed
    if parsed.type == "mps":
        if not _mps_available():
            raise ValueError(
                f"{argument} {str(device)!r}: Apple's MPS backend is not available here "
                f"(it needs a Mac with Apple silicon or AMD GPU); this machine has: {here}"
            )
        return parsed
    raise ValueError(
        f"{argument} {str(device)!r}: the package runs on {list(DEVICE_TYPES)}, not on "
        f"{parsed.type!r}; this machine has: {here}"
    )


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


@functools.cache
def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX tiles).

    Example:
        >>> from captum_explainer.machine import native_bf16
        >>> isinstance(native_bf16(), bool)
        True
    """
    cpu = torch.cpu
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def warn_if_slow_precision(precision: str, device: str | torch.device = "cpu") -> bool:
    """Warn (``UserWarning``) where ``precision="bf16"`` runs on a CPU without native
    bfloat16, which makes it slower than float32; returns whether it warned.

    Example:
        >>> from captum_explainer.machine import warn_if_slow_precision
        >>> warn_if_slow_precision("fp32")  # float32 never warns
        False
    """
    if precision != "bf16" or torch.device(device).type != "cpu" or native_bf16():
        return False
    warnings.warn(
        f"precision='bf16' on this CPU ({cpu_model()}) is emulated: it has neither AVX-512 "
        f"BF16 nor AMX, so bfloat16 autocast is several times slower than float32 here; "
        f"use precision='fp32' (--precision fp32) on this machine",
        UserWarning,
        stacklevel=3,
    )
    return True


def cpu_model() -> str:
    """The CPU's model name (``lscpu``'s "Model name"), or the platform's processor string.

    Example:
        >>> from captum_explainer.machine import cpu_model
        >>> bool(cpu_model())
        True
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def describe_machine() -> dict[str, Any]:
    """What a timing depends on: the CPU model, the threads torch uses, the CPU's cores,
    the vector instructions torch dispatches to, native bfloat16, and the torch version.

    Example:
        >>> from captum_explainer.machine import describe_machine
        >>> sorted(describe_machine())
        ['cpu_capability', 'cpu_count', 'cpu_model', 'native_bf16', 'threads', 'torch']
    """
    return {
        "cpu_model": cpu_model(),
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "native_bf16": native_bf16(),
        "torch": torch.__version__,
    }


def machine_line() -> str:
    """:func:`describe_machine` as one line for a table's caption or a log.

    Example:
        >>> from captum_explainer.machine import machine_line
        >>> "threads" in machine_line() and "torch" in machine_line()
        True
    """
    d = describe_machine()
    return (
        f"{d['cpu_model']}, {d['threads']} threads ({d['cpu_count']} cores), "
        f"{d['cpu_capability']}, native bf16: {'yes' if d['native_bf16'] else 'no'}, "
        f"torch {d['torch']}"
    )
