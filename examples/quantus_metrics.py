"""Quantus's metrics on the package's methods, through the explain_func bridge.

    pip install 'captum-explainer[quantus]'
    python examples/quantus_metrics.py --method gradcam

Runs one faithfulness (FaithfulnessCorrelation), one localisation (PointingGame, against the
synthetic ground truth), one randomisation (MPRT) and one robustness (MaxSensitivity) metric
of Quantus on the shipped classifier and a few fresh synthetic images.
"""

import argparse

import numpy as np
import quantus
import torch

from captum_explainer.data import SYNTHETIC_NORMALIZATION, SyntheticScenes, collate_items
from captum_explainer.evaluation.registry import method_keys, work_overrides
from captum_explainer.models import synthetic_classifier, synthetic_explainer
from captum_explainer.tasks.quantus import quantus_explain_func


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--method", choices=method_keys(), default="gradcam")
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--fast", action="store_true", help="fewer samples (tests)")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = synthetic_classifier()
    data = SyntheticScenes(args.images, split="test", seed=88)
    images, labels, segmentation = collate_items([data[i] for i in range(len(data))])
    targets = labels.float().argmax(1)
    x, y = images.numpy(), targets.numpy()
    # The class's own pixels, as Quantus's localisation metrics expect: (N, 1, H, W).
    s = (segmentation == targets[:, None, None] + 1).numpy()[:, None].astype(np.float32)
    explain = quantus_explain_func(
        args.method,
        SYNTHETIC_NORMALIZATION,
        explainer=synthetic_explainer() if args.method == "explainer" else None,
        settings=work_overrides(n_masks=200).get(args.method),
    )
    samples = 3 if args.fast else 20
    metrics = {
        "FaithfulnessCorrelation": quantus.FaithfulnessCorrelation(
            nr_runs=samples, subset_size=64, disable_warnings=True
        ),
        "PointingGame": quantus.PointingGame(disable_warnings=True),
        "MPRT": quantus.MPRT(layer_order="top_down", disable_warnings=True),
        "MaxSensitivity": quantus.MaxSensitivity(nr_samples=samples, disable_warnings=True),
    }
    print(f"| metric | {args.method} (mean over {len(y)} images) |")
    print("|---|---|")
    for name, metric in metrics.items():
        scores = metric(
            model=model,
            x_batch=x,
            y_batch=y,
            a_batch=None,
            s_batch=s,
            explain_func=explain,
            device="cpu",
        )
        if isinstance(scores, dict):  # MPRT: similarity per randomised layer
            scores = list(scores.values())[-1]
        print(f"| {name} | {float(np.nanmean(np.asarray(scores, dtype=float))):.3f} |")


if __name__ == "__main__":
    main()
