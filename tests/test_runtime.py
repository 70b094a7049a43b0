"""The CPU allocator setting: freed activations are reused instead of mapped afresh."""

import os
import subprocess
import sys

import pytest

from captum_explainer.runtime import reuse_freed_memory

# Five passes of a convolution whose output (64 MB) is far above glibc's mmap threshold;
# prints the minor page faults of the last four.
PASSES = """
import resource, sys, torch
from captum_explainer.runtime import reuse_freed_memory
applied = reuse_freed_memory() if sys.argv[1] == "reuse" else False
conv = torch.nn.Conv2d(3, 64, 3, padding=1)
x = torch.randn(64, 3, 64, 64)
with torch.no_grad():
    conv(x)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(4):
        conv(x)
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str, env: dict | None = None) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", PASSES, mode],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    ).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_activations_are_reused_instead_of_faulted_in_again():
    applied, reused = _faults("reuse")
    _, fresh = _faults("system")
    assert applied == "True"
    # Each 64 MB output mapped afresh costs ~16,000 page faults; reused, almost none.
    assert fresh > 20_000 and reused < fresh / 10, (fresh, reused)


def test_the_users_own_malloc_settings_are_left_alone(monkeypatch):
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    assert reuse_freed_memory() is False


def test_a_bad_threshold_is_named():
    with pytest.raises(ValueError, match="mmap_threshold must be an integer >= 1, got 0"):
        reuse_freed_memory(0)
