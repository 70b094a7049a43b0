"""``captum-explainer evaluate``: the paper's evaluation of several methods on a dataset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from captum_explainer.cli._common import (
    add_canvas,
    add_command,
    add_common,
    add_models,
    add_own_classifier,
    add_road,
    add_score,
    add_single_file,
    add_work,
    network_options,
    own_classifier,
    work_options,
)
from captum_explainer.data.factory import DATASETS
from captum_explainer.evaluation.registry import method_keys
from captum_explainer.report import markdown_table
from captum_explainer.tasks.evaluate import (
    EvaluationInterrupted,
    EvaluationSettings,
    run_evaluation,
)

EPILOG = """examples:
  captum-explainer evaluate --dataset synthetic --n-images 200 --out eval-synthetic
  captum-explainer evaluate --dataset voc2007 --root data/voc --classifier runs/vgg16/best.pt \\
      --explainer runs/voc/best.pt --methods explainer gradcam rise --out eval-voc
  torchrun --nproc_per_node=4 -m captum_explainer evaluate --dataset coco2014 --root data/coco ...
  captum-explainer evaluate --model torchvision:resnet18 --weights my.pt --num-classes 5 \
      --data test_images/ --masks test_masks/ --explainer runs/mine/best.pt --out eval-mine
"""


def add_parser(commands: argparse._SubParsersAction) -> None:
    evaluate = add_command(
        commands,
        "evaluate",
        "the paper's evaluation of several methods on a dataset, as a report",
        EPILOG,
    )
    evaluate.add_argument("--dataset", choices=DATASETS, default="synthetic")
    evaluate.add_argument("--root", type=Path, help="dataset folder (VOC or COCO)")
    add_models(evaluate)
    add_own_classifier(evaluate)
    evaluate.add_argument(
        "--masks", type=Path, help="with --data: the ground-truth masks (PNG class maps)"
    )
    evaluate.add_argument(
        "--methods",
        nargs="+",
        metavar="NAME",
        help=f"methods to run: {', '.join(method_keys())} (default: all)",
    )
    evaluate.add_argument("--n-images", type=int, help="evaluate at most this many images")
    evaluate.add_argument("--batch-size", type=int, default=16)
    evaluate.add_argument("--image-size", type=int, help="image side (default: the classifier's)")
    add_work(evaluate)
    add_score(evaluate)
    add_canvas(evaluate)
    add_road(evaluate)
    evaluate.add_argument(
        "--no-controls",
        dest="controls",
        action="store_false",
        help="skip the faithfulness controls (the games on maps blurred to the blur "
        "reference's smoothness, Grad-CAM's; the mask-only check, a small classifier of the masks' shapes)",
    )
    add_single_file(evaluate)
    evaluate.add_argument(
        "--strict",
        action="store_true",
        help="with --data: stop at the first image that cannot be read (default: leave the "
        "unreadable ones out, list them and exit with status 1)",
    )
    evaluate.add_argument(
        "--out", type=Path, default=Path("evaluation-output"), help="report folder"
    )
    add_common(evaluate)
    evaluate.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    unreadable: list[tuple[Path, str]] = []
    try:
        result = _evaluate(args, unreadable)
    except EvaluationInterrupted as stop:
        print(markdown_table(stop.rows))
        print(f"{stop}", file=sys.stderr)
        return 130  # the shell's code for a run stopped by Ctrl-C
    if result is not None:  # the main process prints
        rows, report = result
        print(markdown_table(rows))
        print(f"wrote {report}")
    for path, why in unreadable:
        print(f"skipped {str(path)!r}: {why}", file=sys.stderr)
    if unreadable:
        print(
            f"captum-explainer evaluate: {len(unreadable)} image(s) could not be read and were "
            f"left out (listed above)",
            file=sys.stderr,
        )
    # Status 1: a partial result (some images left out); 2: an error, nothing done.
    return 1 if unreadable else 0


def _evaluate(
    args: argparse.Namespace, unreadable: list[tuple[Path, str]]
) -> tuple[list[dict], Path] | None:
    own = own_classifier(args, str(args.classifier)) if args.model or args.classifier else None
    settings = EvaluationSettings(
        args.out,
        dataset=args.dataset,
        root=args.root,
        classifier=args.classifier,
        networks=network_options(args),
        methods=args.methods,
        n_images=args.n_images,
        batch_size=args.batch_size,
        image_size=args.image_size,
        work=work_options(args),
        score=args.score,
        canvas=args.canvas,
        self_contained=args.single_file,
        seed=args.seed,
        device=args.device,
        progress=not args.no_progress,
        own=own,
        data=args.data,
        masks=args.masks,
        road=args.road,
        controls=args.controls,
        strict=args.strict,
        unreadable=lambda path, why: unreadable.append((path, why)),
    )
    return run_evaluation(settings)
