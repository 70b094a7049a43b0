"""``captum-explainer train-amortized``: a slow method distilled into a one-pass network."""

from __future__ import annotations

import argparse
from pathlib import Path

from captum_explainer.amortized.fit import run_amortized_training
from captum_explainer.amortized.train import AmortizedTrainingConfig
from captum_explainer.cli._common import (
    add_command,
    add_training_options,
    data_options,
    loop_options,
    parse_model_kwargs,
)
from captum_explainer.evaluation.registry import model_dependent_keys
from captum_explainer.models.explainer_nets import EXPLAINERS

EPILOG = """examples:
  captum-explainer train-amortized --out runs/amortized-rise --teacher rise \\
      --teacher-kwargs n_masks=250                          # RISE for the shipped classifier
  captum-explainer train-amortized --out runs/amortized-ig --teacher integrated-gradients \\
      --teacher-kwargs n_steps=16 --classifier runs/resnet18/best.pt --dataset real_objects
"""


def add_parser(commands: argparse._SubParsersAction) -> None:
    train = add_command(
        commands,
        "train-amortized",
        "train a network to predict a slow method's maps in one forward pass",
        EPILOG,
    )
    train.add_argument("--out", type=Path, required=True, help="folder for checkpoints and log")
    train.add_argument(
        "--teacher",
        choices=model_dependent_keys(),
        default="rise",
        help="the method imitated (default rise)",
    )
    train.add_argument(
        "--teacher-kwargs",
        nargs="+",
        metavar="KEY=VALUE",
        help="the teacher's attribute() arguments over its demo settings, e.g. n_masks=250",
    )
    train.add_argument(
        "--classifier",
        type=Path,
        help="classifier checkpoint (default: the shipped synthetic classifier)",
    )
    train.add_argument("--arch", choices=sorted(EXPLAINERS), default="small_explainer")
    train.add_argument(
        "--arch-kwargs",
        nargs="+",
        metavar="KEY=VALUE",
        help="the network builder's arguments (default for small_explainer: width=32 "
        "full_res_channels=8 class_head_channels=0)",
    )
    train.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 1e-3)")
    train.add_argument(
        "--label-epochs",
        type=int,
        default=1,
        help="epochs each image's label serves before the teacher draws it anew (default 1: "
        "fresh labels on every visit, which averages the teacher's noise out; more: the "
        "teacher's time paid once per that many epochs)",
    )
    train.add_argument(
        "--reference-images",
        type=int,
        default=32,
        help="validation images measured against the teacher at --reference-work (default 32)",
    )
    train.add_argument(
        "--reference-work",
        type=int,
        default=4000,
        help="the teacher's work count for that reference, e.g. RISE's masks (default 4000); "
        "best.pt is the epoch closest to it",
    )
    add_training_options(train, val_size=64, batch_size=16)
    train.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = loop_options(args)
    if settings.pop("precision") != "fp32":
        raise ValueError("train-amortized trains in float32 only (--precision fp32)")
    config = AmortizedTrainingConfig(
        arch=args.arch,
        arch_kwargs=parse_model_kwargs(args.arch_kwargs, "--arch-kwargs"),
        lr=args.lr,
        label_epochs=args.label_epochs,
        reference_images=args.reference_images,
        reference_work=args.reference_work,
        **settings,
    )
    history = run_amortized_training(
        config,
        args.teacher,
        parse_model_kwargs(args.teacher_kwargs, "--teacher-kwargs"),
        args.classifier,
        device=args.device,
        **data_options(args),
    )
    print(f"trained {len(history)} epochs; best checkpoint: {args.out / 'best.pt'}")
    return 0
