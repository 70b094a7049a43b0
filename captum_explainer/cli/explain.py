"""``captum-explainer explain``: one map and overlay per image file."""

from __future__ import annotations

import argparse
from pathlib import Path

from captum_explainer.cli._common import add_command, add_common, add_models
from captum_explainer.evaluation.methods import METHOD_NAMES
from captum_explainer.explain import explain_files
from captum_explainer.models.pretrained import load_models

EPILOG = """examples:
  captum-explainer explain photo.jpg --classifier runs/vgg16/best.pt --method gradcam --target dog
  captum-explainer explain a.png b.png --method explainer --target star   # shipped synthetic models
"""


def add_parser(commands: argparse._SubParsersAction) -> None:
    explain = add_command(
        commands,
        "explain",
        "explain image files: save each map (.npy) and its overlay (.png)",
        EPILOG,
    )
    explain.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    add_models(explain)
    explain.add_argument("--method", choices=sorted(METHOD_NAMES), default="gradcam")
    explain.add_argument("--target", help="class name or index (default: the top-1 prediction)")
    explain.add_argument("--out", type=Path, default=Path("explanations"), help="output folder")
    add_common(explain)
    explain.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    classifier, explainer, meta = load_models(
        args.classifier, args.explainer, args.method == "explainer", args.device
    )
    written = explain_files(
        args.images,
        classifier,
        explainer,
        meta,
        args.method,
        args.target,
        args.out,
        seed=args.seed,
        device=args.device,
    )
    for path in written:
        print(path)
    return 0
