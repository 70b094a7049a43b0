"""``captum-explainer demo``: the package's main job on the shipped (or retrained) models."""

from __future__ import annotations

import argparse
from pathlib import Path

from captum_explainer.cli._common import (
    add_canvas,
    add_command,
    add_common,
    add_models,
    add_road,
    add_score,
    add_single_file,
    network_options,
)
from captum_explainer.data.factory import GENERATED
from captum_explainer.scores import score_for_task
from captum_explainer.tasks.demo import DemoSettings, retrain_shipped_models, run_demo
from captum_explainer.tasks.task_setup import set_up

EPILOG = """examples:
  captum-explainer demo --out demo-output
  captum-explainer demo --retrain        # train the classifier and the Explainer first (long)
  captum-explainer demo --world real_objects --classifier runs/resnet18/best.pt \
      --explainer runs/explainer-r18/best.pt --out demo-real   # docs/real-objects.md
"""


def add_parser(commands: argparse._SubParsersAction) -> None:
    demo = add_command(
        commands,
        "demo",
        "explain fresh synthetic images with the shipped models and write a report",
        EPILOG,
    )
    demo.add_argument("--out", type=Path, default=Path("demo-output"), help="output folder")
    demo.add_argument("--n-images", type=int, default=8, help="images to explain (default 8)")
    demo.add_argument(
        "--retrain",
        action="store_true",
        help="train the classifier and the Explainer from scratch first (into OUT-models)",
    )
    demo.add_argument(
        "--world",
        choices=sorted(GENERATED),
        default="synthetic",
        help="the generated world the images come from (real_objects needs --classifier and "
        "--explainer trained on it)",
    )
    add_models(demo)
    add_score(demo)
    add_canvas(demo)
    add_road(demo)
    add_single_file(demo)
    add_common(demo)
    demo.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    classifier, networks = None, {}
    task = "multilabel"  # the synthetic world's classifiers
    paths = network_options(args)
    if (args.classifier is None) != ("explainer" not in paths):
        raise ValueError("--classifier and --explainer go together (the Explainer trained for it)")
    if args.classifier is not None:
        setup = set_up(args.classifier, device=args.device, networks=paths)
        classifier, networks, task = setup.classifier, setup.networks, setup.task
    elif paths:  # the shipped classifier with some networks of the user's
        networks = set_up(device=args.device, networks=paths).networks
    if args.retrain:
        classifier, explainer = retrain_shipped_models(
            args.out.parent / f"{args.out.name}-models", args.device, not args.no_progress
        )
        networks = {**networks, "explainer": explainer}
    settings = DemoSettings(
        args.out,
        n_images=args.n_images,
        seed=args.seed,
        device=args.device,
        progress=not args.no_progress,
        classifier=classifier,
        networks=networks,
        score=args.score or score_for_task(task),
        canvas=args.canvas,
        road=args.road,
        self_contained=args.single_file,
        world=args.world,
    )
    report = run_demo(settings)
    print(f"wrote {report}")
    return 0
