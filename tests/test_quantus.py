"""The Quantus bridge, run by Quantus itself when it is installed (the ``quantus`` extra)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from captum_explainer.data import SYNTHETIC_NORMALIZATION, SyntheticScenes, collate_items
from captum_explainer.models import synthetic_classifier, synthetic_explainer
from captum_explainer.tasks.quantus import quantus_explain_func

quantus = pytest.importorskip("quantus")
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "quantus_metrics.py"


@pytest.mark.parametrize("method", ["gradcam", "integrated-gradients", "explainer"])
def test_explain_func_speaks_quantus(method):
    model = synthetic_classifier()
    data = SyntheticScenes(2, split="test", seed=5)
    images, labels, _ = collate_items([data[i] for i in range(2)])
    explain = quantus_explain_func(
        method, SYNTHETIC_NORMALIZATION, explainer=synthetic_explainer(), settings={}
    )
    maps = explain(model, images.numpy(), labels.float().argmax(1).numpy())
    assert isinstance(maps, np.ndarray) and maps.dtype == np.float32
    assert maps.shape == (2, 1, 64, 64) and np.isfinite(maps).all()
    # Quantus hands over its own (here a randomised) copy of the model: the map follows it.
    randomised = synthetic_classifier()
    torch.nn.init.normal_(randomised.head.weight)
    again = explain(randomised, images.numpy(), labels.float().argmax(1).numpy())
    assert (method == "explainer") == np.allclose(maps, again)


def test_a_torchvision_model_with_gradcam_found_by_layer_name():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=4).eval()
    explain = quantus_explain_func("gradcam", SYNTHETIC_NORMALIZATION, gradcam_layer="layer4")
    x = np.random.default_rng(0).random((2, 3, 32, 32), dtype=np.float32)
    maps = explain(model, x, np.array([0, 3]))
    assert maps.shape == (2, 1, 32, 32)
    metric = quantus.MPRT(layer_order="top_down", disable_warnings=True)
    scores = metric(
        model=model, x_batch=x, y_batch=np.array([0, 3]), a_batch=None,
        explain_func=explain, device="cpu",
    )  # fmt: skip
    assert len(scores) > 0


def test_four_quantus_metrics_run_through_the_bridge():
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--fast", "--images", "2"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for metric in ("FaithfulnessCorrelation", "PointingGame", "MPRT", "MaxSensitivity"):
        assert f"| {metric} |" in result.stdout


def test_unknown_method_is_named():
    with pytest.raises(ValueError, match="method must be one of"):
        quantus_explain_func("occlusion", SYNTHETIC_NORMALIZATION)
    with pytest.raises(ValueError, match="needs its trained network"):
        quantus_explain_func("explainer", SYNTHETIC_NORMALIZATION)
