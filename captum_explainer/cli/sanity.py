"""``captum-explainer sanity``: does each method's map depend on the model at all?"""

from __future__ import annotations

import argparse
from pathlib import Path

from captum_explainer.cli._common import (
    add_command,
    add_common,
    add_score,
    add_single_file,
    add_work,
    work_options,
)
from captum_explainer.data.factory import DATASETS
from captum_explainer.evaluation.registry import default_sanity_keys, model_dependent_keys
from captum_explainer.report import markdown_table
from captum_explainer.tasks.sanity import SanitySettings, run_sanity

EPILOG = """examples:
  captum-explainer sanity --methods gradcam integrated-gradients rise --out sanity-output
  captum-explainer sanity --classifier runs/vgg16/best.pt --dataset voc2007 --root data/voc \\
      --mode independent --n-images 16
"""


def add_parser(commands: argparse._SubParsersAction) -> None:
    sanity = add_command(
        commands,
        "sanity",
        "model-randomisation and random-logit sanity checks of the methods, as a report",
        EPILOG,
    )
    sanity.add_argument(
        "--methods",
        nargs="+",
        choices=model_dependent_keys(),
        default=list(default_sanity_keys()),
        metavar="NAME",
        help=f"methods to check: {', '.join(model_dependent_keys())} (default: "
        f"{', '.join(default_sanity_keys())})",
    )
    sanity.add_argument(
        "--classifier",
        type=Path,
        help="classifier checkpoint (default: the shipped synthetic classifier)",
    )
    sanity.add_argument("--dataset", choices=DATASETS, default="synthetic")
    sanity.add_argument("--root", type=Path, help="dataset folder (VOC or COCO)")
    sanity.add_argument("--n-images", type=int, default=8)
    sanity.add_argument("--mode", choices=("cascading", "independent"), default="cascading")
    add_work(sanity)
    sanity.add_argument(
        "--explainer-steps",
        type=int,
        default=0,
        help="also train two Explainers this many steps, for the classifier and for a "
        "randomised copy, and compare their masks (0: skip; 150 takes about 4 minutes on 2 cores)",
    )
    add_score(sanity)
    add_single_file(sanity)
    sanity.add_argument("--out", type=Path, default=Path("sanity-output"), help="report folder")
    add_common(sanity)
    sanity.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = SanitySettings(
        args.out,
        methods=args.methods,
        classifier=args.classifier,
        dataset=args.dataset,
        root=args.root,
        n_images=args.n_images,
        mode=args.mode,
        work=work_options(args),
        score=args.score,
        seed=args.seed,
        device=args.device,
        self_contained=args.single_file,
        explainer_steps=args.explainer_steps,
    )
    rows, report = run_sanity(settings)
    print(markdown_table(rows))
    print(f"wrote {report}")
    return 0
