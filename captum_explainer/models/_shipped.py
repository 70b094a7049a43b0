"""Where the package's shipped weights and their manifests live (no model code here).

Each shipped file ``assets/NAME.pt`` is a checkpoint written by the package's own training
command, with ``assets/NAME.json`` beside it recording the exact command, seed, package
version and the numbers it reached, so anyone can retrain and compare. The model modules
load their weights through this module and :mod:`captum_explainer.checkpoint`, which sit
below them (as torchvision's weights sit below its models).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from captum_explainer.checkpoint import CheckpointError

ASSETS = Path(__file__).resolve().parent / "assets"

#: The small CNN trained on :class:`~captum_explainer.data.SyntheticScenes` (64 x 64, 8 classes).
SYNTHETIC_CLASSIFIER = ASSETS / "small_cnn_synthetic.pt"
#: The :class:`SmallExplainer` trained for :data:`SYNTHETIC_CLASSIFIER`.
SYNTHETIC_EXPLAINER = ASSETS / "small_explainer_synthetic.pt"
#: RISE amortized for :data:`SYNTHETIC_CLASSIFIER`: a small network that regresses its maps.
SYNTHETIC_AMORTIZED_RISE = ASSETS / "amortized_rise_synthetic.pt"


def manifest(weights_file: str | Path) -> dict[str, Any]:
    """The manifest stored beside a shipped weights file."""
    path = Path(weights_file).with_suffix(".json")
    if not path.is_file():
        raise CheckpointError(f"no manifest {str(path)!r} beside {str(weights_file)!r}")
    return json.loads(path.read_text())


def shipped(path: Path, command: str) -> Path:
    """``path`` if the installation has it, else a ``CheckpointError`` saying how to get one."""
    if not path.is_file():
        raise CheckpointError(
            f"the shipped weights {str(path)!r} are missing from this installation; "
            f"reinstall the package or train your own with `captum-explainer {command}`"
        )
    return path
