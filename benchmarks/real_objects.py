"""The Explainer at real scale, on the real-objects world: the figures and tables of
docs/real-objects.md.

    python benchmarks/real_objects.py samples --out docs/images/real_objects_samples.png
    python benchmarks/real_objects.py curve --run-dir runs/explainer-r18 [OTHER_RUN ...] \\
        --out docs/images/real_objects_learning_curve.png
    python benchmarks/real_objects.py compare --classifier runs/resnet18/best.pt \\
        --explainer runs/explainer-r18/best.pt --n-images 64 --seed 2026 --out runs/real-eval
    python benchmarks/real_objects.py classifier --classifier runs/resnet18/best.pt
    python benchmarks/real_objects.py speed --classifier runs/resnet18/best.pt \\
        --explainer runs/explainer-r18/best.pt [--networks folded compiled] [--precision bf16]

``compare`` scores every method on held-out scenes (the ``test`` split: Fashion-MNIST's test
file, a seed no run trained or was tuned on) through the package's one evaluation path, with
Grad-CAM on ``layer4`` and on ``layer3`` (for a ResNet); P-TAME joins it through
benchmarks/ptame_compare.py.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

import torch
from matplotlib.figure import Figure

from captum_explainer.attr import ExplainerAttribution, GradCAM, ScoreCAM
from captum_explainer.data import RealObjects, collate_items
from captum_explainer.data.loading import evaluable_indices
from captum_explainer.evaluation.evaluate import evaluate
from captum_explainer.evaluation.registry import MethodSpec, Models, build_methods, work_overrides
from captum_explainer.evaluation.timing import timed
from captum_explainer.metrics import average_precision, mean_average_precision
from captum_explainer.models.inference import PRECISIONS, fold_batch_norms
from captum_explainer.models.pretrained import load_models
from captum_explainer.report import (
    class_specific_view,
    comparison_grid,
    dataset_samples_figure,
    markdown_table,
    write_report,
)

#: How ``speed`` runs the Explainer: as loaded, its batch norms folded into the convolutions,
#: or folded and then ``torch.compile``d (the first calls compile; they are not timed).
NETWORKS = {
    "as-loaded": lambda network: network,
    "folded": fold_batch_norms,
    "compiled": lambda network: torch.compile(fold_batch_norms(network)),
}

#: The methods compared (record keys); Grad-CAM also runs on layer3 beside its layer4 default.
KEYS = ["explainer", "gradcam", "scorecam", "rise", "integrated-gradients", "fgvis"]
COLUMNS = [
    "method",
    "class_iou",
    "own_object_share",
    "absent_class_mass",
    "continuous_iou",
    "mean_f1",
    "pointing_game",
    "deletion_auc",
    "insertion_auc",
    "deletion_auc_blurred",
    "insertion_auc_blurred",
    "seconds_per_image",
]
#: The localisation control, the same in every row: the games ranked by the true masks.
TRUTH_COLUMNS = [
    "deletion_auc_truth",
    "insertion_auc_truth",
    "deletion_auc_truth_blurred",
    "insertion_auc_truth_blurred",
]


def samples(args: argparse.Namespace) -> None:
    data = RealObjects(args.n, image_size=args.image_size, seed=args.seed, split="test")
    images, labels, segmentation = collate_items([data[i] for i in range(args.n)])
    figure = dataset_samples_figure(images, labels, segmentation, data.classes, data.NORMALIZATION)
    figure.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")


def curve(args: argparse.Namespace) -> None:
    """The learning curves of one or more train-explainer runs (the first one solid)."""
    figure = Figure(figsize=(6.5, 4.4))
    axis = figure.subplots()
    # The absent-class mass is a ratio per image: images whose present masks are empty make
    # its mean explode, so it gets a log axis of its own.
    ratio = axis.twinx()
    labels = args.labels or [run.name for run in args.run_dir]
    if len(labels) != len(args.run_dir):
        raise SystemExit(f"--labels: {len(labels)} given for {len(args.run_dir)} --run-dir")
    for run_dir, name, style in zip(args.run_dir, labels, ("-", ":", "-.", "--")):
        with open(run_dir / "log.csv") as stream:
            rows = list(csv.DictReader(stream))
        seen = [float(r["images_seen"]) / 1000 for r in rows]
        for key, label, colour in (
            ("val_class_iou", "per-class IoU", "C0"),
            ("val_own_object_share", "own-object share", "C1"),
        ):
            values = [float(r[key]) for r in rows]
            axis.plot(seen, values, style, color=colour, marker="o", label=f"{label} ({name})")
        absent = [float(r["val_absent_class_mass"]) for r in rows]
        ratio.semilogy(seen, absent, style, color="k", marker="x", label=f"absent mass ({name})")
        print(name)
        for r, s in zip(rows, seen):
            print(
                f"{s:7.1f}k images: class IoU {float(r['val_class_iou']):.3f}, share "
                f"{float(r['val_own_object_share']):.3f}, absent "
                f"{float(r['val_absent_class_mass']):.3f}"
            )
    axis.set_xlabel("training images seen (thousands)")
    axis.set_ylim(0, 1.0)
    axis.grid(alpha=0.3)
    ratio.set_ylabel("absent-class mass (mean ratio, log)", fontsize=8)
    handles = axis.get_legend_handles_labels()[0] + ratio.get_legend_handles_labels()[0]
    axis.legend(handles=handles, fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    figure.tight_layout()
    figure.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")


def compare(args: argparse.Namespace, extra: Sequence[MethodSpec] = ()) -> None:
    """Every method of ``args.methods`` (and ``extra``, e.g. P-TAME from
    benchmarks/ptame_compare.py) on the same held-out scenes."""
    classifier, explainer, meta = load_models(args.classifier, args.explainer, True)
    classifier, explainer = classifier.eval(), explainer.eval()
    data = RealObjects(
        args.n_images, image_size=int(meta["image_size"][0]), seed=args.seed, split="test"
    )
    models = Models(classifier, explainer, data.NORMALIZATION, "sigmoid")
    overrides = work_overrides(n_masks=args.rise_masks, n_iter=args.fgvis_iterations)
    specs = build_methods(models, args.methods, "demo", args.seed, overrides)
    by_name = {s.name: s for s in specs}
    resnet = all(hasattr(classifier, name) for name in ("layer3", "layer4"))
    if resnet and "Grad-CAM" in by_name:
        # A ResNet's layer3 (16 x 16 at 128 px) beside the default layer4 (4 x 4). A ViT's
        # Grad-CAM reads the last block's tokens (the default).
        gradcam = by_name["Grad-CAM"]
        specs.insert(
            specs.index(gradcam) + 1,
            replace(
                gradcam,
                name="Grad-CAM (layer3)",
                attribution=GradCAM(classifier, classifier.layer3),
            ),
        )
    if args.no_fgvis_per_class and "FGVis" in by_name:
        # FGVis optimises one mask per (image, class): every class of every image costs K
        # times its run, more than every other method together here.
        by_name["FGVis"].per_class = False
    if resnet and "Score-CAM" in by_name:
        by_name["Score-CAM"].attribution = ScoreCAM(classifier, classifier.layer4, score="sigmoid")
    specs.extend(extra)
    indices = evaluable_indices(data, args.n_images)
    start = time.perf_counter()
    result = evaluate(specs, classifier, data, indices, args.batch_size, score="sigmoid")
    rows = result.rows()
    print(markdown_table([{k: r.get(k) for k in COLUMNS} for r in rows]))
    print("ground truth (sharp, blurred to Grad-CAM's roughness):")
    print(markdown_table([{k: rows[0].get(k) for k in TRUTH_COLUMNS}]))
    out = Path(args.out)
    figures = {}
    if result.first_batch is not None:
        figures["comparison_grid"] = comparison_grid(
            result.first_batch, data.NORMALIZATION, class_names=data.classes
        )
        figures["class_specific_view"] = class_specific_view(
            result.first_batch, data.classes, data.NORMALIZATION
        )
    notes = [
        f"{len(indices)} held-out RealObjects scenes (split 'test', seed {args.seed}), classifier "
        f"{args.classifier}, Explainer {args.explainer}; RISE {args.rise_masks} masks, FGVis "
        f"{args.fgvis_iterations} iterations; sigmoid scores; {time.perf_counter() - start:.0f} s.",
    ]
    write_report(out, rows, figures, title="The Explainer at real scale", notes=notes)
    (out / "rows.json").write_text(json.dumps(rows, indent=1, default=float))
    print(f"wrote {out / 'report.html'}")


def classifier_map(args: argparse.Namespace) -> None:
    classifier, _, meta = load_models(args.classifier)
    classifier = classifier.eval()
    data = RealObjects(
        args.n_images, image_size=int(meta["image_size"][0]), seed=args.seed, split="test"
    )
    scores, labels = [], []
    with torch.no_grad():
        for start in range(0, len(data), 64):
            images, batch_labels, _ = collate_items(
                [data[i] for i in range(start, min(start + 64, len(data)))]
            )
            scores.append(classifier(images))
            labels.append(batch_labels)
    scores, labels = torch.cat(scores), torch.cat(labels)
    per_class = average_precision(scores, labels).tolist()
    print(
        f"test mAP on {len(data)} held-out scenes (split 'test', seed {args.seed}): "
        f"{mean_average_precision(scores, labels):.3f}"
    )
    for name, ap in zip(data.classes, per_class):
        print(f"  {name:>10}: AP {ap:.3f}")


def speed(args: argparse.Namespace) -> None:
    _, explainer, meta = load_models(args.classifier, args.explainer, True)
    explainer = explainer.eval()
    # Timed as a user calls it: every class's masks through the attribution class (the
    # network stored channels-last by the loader, the input copied into that layout). The
    # networks take turns, round after round, so that a busy moment of a shared machine
    # falls on all of them alike.
    attributions = {
        name: ExplainerAttribution(NETWORKS[name](explainer), precision=args.precision)
        for name in args.networks
    }
    size = int(meta["image_size"][0])
    batch = torch.randn(args.batch_size, 3, size, size)
    for attribution in attributions.values():
        for _ in range(3):
            attribution.attribute_all_classes(batch)
    times: dict[str, list[float]] = {name: [] for name in attributions}
    for _ in range(args.repeats):
        for name, attribution in attributions.items():
            times[name].append(timed(partial(attribution.attribute_all_classes, batch))[1])
    print(
        f"Explainer inference at {size} px, batch {args.batch_size}, {torch.get_num_threads()} "
        f"threads, {args.precision}, {args.repeats} rounds (images/s: median, quartiles):"
    )
    for name, seconds in times.items():
        rates = sorted(args.batch_size / t for t in seconds)
        n = len(rates)
        print(f"  {name:>9}: {rates[n // 2]:.0f} ({rates[n // 4]:.0f}-{rates[3 * n // 4]:.0f})")


def add_compare_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``compare``'s options (shared with benchmarks/ptame_compare.py)."""
    _with_models(parser)
    parser.add_argument("--n-images", type=int, default=64)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--rise-masks", type=int, default=1000)
    parser.add_argument("--fgvis-iterations", type=int, default=100)
    parser.add_argument(
        "--no-fgvis-per-class", action="store_true", help="FGVis's per-class scores off"
    )
    parser.add_argument("--methods", nargs="+", default=KEYS, help=f"record keys (default {KEYS})")
    parser.add_argument("--out", type=Path, required=True)
    return parser


def _with_models(
    parser: argparse.ArgumentParser, explainer: bool = True
) -> argparse.ArgumentParser:
    parser.add_argument("--classifier", type=Path, required=True)
    if explainer:
        parser.add_argument("--explainer", type=Path, required=True)
    return parser


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    s = commands.add_parser("samples")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--n", type=int, default=8)
    s.add_argument("--image-size", type=int, default=128)
    s.add_argument("--seed", type=int, default=5)
    s.set_defaults(run=samples)
    c = commands.add_parser("curve")
    c.add_argument(
        "--run-dir", type=Path, nargs="+", required=True, help="train-explainer output folders"
    )
    c.add_argument("--labels", nargs="+", help="a name per run (default: the folders' names)")
    c.add_argument("--out", type=Path, required=True)
    c.set_defaults(run=curve)
    add_compare_arguments(commands.add_parser("compare")).set_defaults(run=compare)
    m = _with_models(commands.add_parser("classifier"), explainer=False)
    m.add_argument("--n-images", type=int, default=1000)
    m.add_argument("--seed", type=int, default=2026)
    m.set_defaults(run=classifier_map)
    p = _with_models(commands.add_parser("speed"))
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--repeats", type=int, default=40)
    p.add_argument("--precision", choices=PRECISIONS, default="fp32")
    p.add_argument("--networks", nargs="+", choices=list(NETWORKS), default=list(NETWORKS))
    p.set_defaults(run=speed)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
