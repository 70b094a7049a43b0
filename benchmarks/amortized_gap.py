"""The gap between an amortized method and the slow one it imitates, on fresh images.

For amortized RISE (the shipped network, or ``--amortized`` with a ``train-amortized``
checkpoint): the fidelity-cost curve against RISE with 8,000 masks (seed unseen in training),
RISE's and the network's time per image, and the break-even count::

    python benchmarks/amortized_gap.py --n-images 64 --seed 7 --training-minutes 41 \\
        --out runs/amortized-gap.json

For a Captum teacher (``--teacher occlusion``) the script first trains the network with
:func:`~captum_explainer.fit_amortized` on synthetic scenes, then compares it with the
teacher's own (deterministic) maps on fresh images::

    python benchmarks/amortized_gap.py --teacher occlusion --train-images 1500 --epochs 6 \\
        --n-images 64 --seed 7 --out runs/amortized-occlusion.json

Localisation and faithfulness come from ``captum-explainer evaluate --methods rise
amortized-rise`` (docs/amortized.md).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch
from captum.attr import Occlusion

from captum_explainer import RISE, AmortizedAttribution, SyntheticScenes, fit_amortized
from captum_explainer.amortized import map_correlation
from captum_explainer.amortized.gap import FidelityCurve, fidelity_curve, seconds_per_image
from captum_explainer.data import collate_items
from captum_explainer.evaluation import MethodSpec
from captum_explainer.evaluation.comparison import raw_class_maps
from captum_explainer.evaluation.timing import time_paired, timed
from captum_explainer.models import load_amortized, synthetic_amortized_rise, synthetic_classifier
from captum_explainer.report import markdown_table
from captum_explainer.runtime import reuse_freed_memory

#: RISE's budgets on the fidelity-cost curve.
BUDGETS = (250, 1000, 4000)

#: Occlusion as the second teacher: 16 x 16 patches every 8 pixels at 64 px (49 positions,
#: every class: 392 masked passes per image).
OCCLUSION = {"sliding_window_shapes": (3, 16, 16), "strides": (3, 8, 8)}


def rise_gap(args: argparse.Namespace, images: torch.Tensor, labels: torch.Tensor) -> dict:
    classifier = synthetic_classifier()
    network = load_amortized(args.amortized)[0] if args.amortized else synthetic_amortized_rise()
    amortized = AmortizedAttribution(network, classifier)
    rise = RISE(classifier, score="sigmoid")
    curve = fidelity_curve(amortized, rise, images, labels, budgets=BUDGETS)
    batch = images[:4]
    rise_s, net_s, ratio = seconds_per_image(amortized, rise, batch, n_masks=4000)
    seconds = {
        n: timed(lambda n=n: rise.attribute(batch, target=0, n_masks=n, seed=0))[1] / 4
        for n in BUDGETS[:-1]
    }
    seconds[4000] = rise_s
    training = args.training_minutes * 60
    rows = [
        {
            "method": f"RISE ({n} masks)",
            "correlation": m,
            "std_error": e,
            "seconds_per_image": seconds[n],
        }
        for n, (m, e) in curve.rise.items()
    ] + [
        {
            "method": "amortized RISE",
            "correlation": curve.amortized[0],
            "std_error": curve.amortized[1],
            "seconds_per_image": net_s,
        }
    ]
    if args.figure is not None:
        fidelity_figure(rows, curve.reference_masks, args.figure)
    return {
        "fidelity": rows,
        "pairs": curve.pairs,
        "closest_budget_beaten": curve.closest_budget_beaten(),
        "rise_4000_seconds_per_image": rise_s,
        "amortized_seconds_per_image": net_s,
        "speedup": ratio,
        "training_minutes": args.training_minutes,
        "break_even_images_vs_rise_4000": FidelityCurve.break_even(training, rise_s, net_s),
        "break_even_images_vs_rise_1000": FidelityCurve.break_even(training, rise_s / 4, net_s),
    }


def fidelity_figure(rows: list[dict], reference_masks: int, path: Path) -> None:
    """Correlation with the reference against seconds per image (log scale)."""
    figure, axes = plt.subplots(figsize=(5.5, 3.6))
    slow = [r for r in rows if r["method"].startswith("RISE")]
    axes.errorbar(
        [r["seconds_per_image"] for r in slow],
        [r["correlation"] for r in slow],
        yerr=[r["std_error"] for r in slow],
        marker="o",
        label="RISE (250, 1,000, 4,000 masks)",
    )
    fast = rows[-1]
    axes.errorbar(
        [fast["seconds_per_image"]], [fast["correlation"]], yerr=[fast["std_error"]],
        marker="*", markersize=12, linestyle="none", label="amortized RISE (one pass)",
    )  # fmt: skip
    axes.set_xscale("log")
    axes.set_xlabel("seconds per image (2 CPU cores)")
    axes.set_ylabel(f"correlation with RISE ({reference_masks:,} masks)")
    axes.legend(loc="upper left")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def occlusion_gap(args: argparse.Namespace, images: torch.Tensor, labels: torch.Tensor) -> dict:
    classifier = synthetic_classifier()
    teacher = MethodSpec("Occlusion", Occlusion(classifier), dict(OCCLUSION), reduction="sum")
    scenes = SyntheticScenes(args.train_images, seed=0, split="train")
    start = time.perf_counter()
    amortized = fit_amortized(
        teacher, classifier, scenes, args.run, epochs=args.epochs, batch_size=16,
        val_fraction=0.05, progress=False,
    )  # fmt: skip
    training = time.perf_counter() - start
    reference = raw_class_maps(teacher, images, labels)
    predicted = amortized.attribute_all_classes(images)
    correlation = map_correlation(predicted, reference)[labels.bool()]
    batch = images[:16]
    timing = time_paired(
        lambda: raw_class_maps(teacher, batch, labels[:16]),
        lambda: amortized.attribute_all_classes(batch),
        repeats=3,
        warmup=1,
    )
    slow, fast = timing.method.median / 16, timing.baseline.median / 16
    return {
        "fidelity": [
            {
                "method": "amortized Occlusion vs Occlusion",
                "correlation": float(correlation.mean()),
                "std_error": float(correlation.std() / len(correlation) ** 0.5),
            }
        ],
        "pairs": int(labels.sum()),
        "occlusion_seconds_per_image_all_classes": slow,
        "amortized_seconds_per_image_all_classes": fast,
        "speedup": timing.ratio,
        "training_minutes": training / 60,
        "training_images": args.train_images,
        "break_even_images": FidelityCurve.break_even(training, slow, fast),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", choices=("rise", "occlusion"), default="rise")
    parser.add_argument("--amortized", type=Path, help="train-amortized checkpoint (rise)")
    parser.add_argument("--training-minutes", type=float, default=float("nan"))
    parser.add_argument("--train-images", type=int, default=1500, help="occlusion: training set")
    parser.add_argument("--epochs", type=int, default=6, help="occlusion: epochs")
    parser.add_argument("--run", type=Path, default=Path("runs/amortized-occlusion"))
    parser.add_argument("--n-images", type=int, default=64)
    parser.add_argument("--seed", type=int, default=7, help="seed of the fresh test scenes")
    parser.add_argument("--out", type=Path, required=True, help="JSON results")
    parser.add_argument("--figure", type=Path, help="rise: the fidelity-cost figure (PNG)")
    args = parser.parse_args()
    reuse_freed_memory()
    scenes = SyntheticScenes(args.n_images, seed=args.seed, split="test")
    images, labels, _ = collate_items([scenes[i] for i in range(args.n_images)])
    result = (rise_gap if args.teacher == "rise" else occlusion_gap)(args, images, labels)
    result["images"] = f"SyntheticScenes({args.n_images}, seed={args.seed}, split='test')"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(markdown_table(result["fidelity"]))
    print(json.dumps({k: v for k, v in result.items() if k != "fidelity"}, indent=2))


if __name__ == "__main__":
    main()
