"""``captum-explainer train-explainer``: an Explainer for a frozen classifier."""

from __future__ import annotations

import argparse
from pathlib import Path

from captum_explainer.cli._common import (
    add_command,
    add_training_options,
    data_options,
    loop_options,
)
from captum_explainer.explainer.loss import PRESETS, LossWeights, loss_weights
from captum_explainer.explainer.train import ExplainerTrainingConfig, fit_explainer
from captum_explainer.models.explainer_nets import EXPLAINERS

EPILOG = """examples:
  captum-explainer train-explainer --out runs/explainer                # synthetic data, shipped classifier
  captum-explainer train-explainer --out runs/voc --dataset voc2007 --root data/voc \\
      --classifier runs/vgg16/best.pt --arch deeplabv3_resnet50 --preset vgg16-voc
  torchrun --nproc_per_node=2 -m captum_explainer train-explainer --out runs/ddp   # many processes
"""

LOSS_WEIGHTS = ("l_e", "l_tv", "l_ac", "l_m", "l_n", "a_min", "a_max", "l_absent", "l_sep")


def add_parser(commands: argparse._SubParsersAction) -> None:
    train = add_command(
        commands,
        "train-explainer",
        "train an Explainer for a frozen classifier (one process, or many under torchrun)",
        EPILOG,
    )
    train.add_argument("--out", type=Path, required=True, help="folder for checkpoints and log")
    train.add_argument(
        "--classifier",
        type=Path,
        help="classifier checkpoint (default: the shipped synthetic classifier)",
    )
    train.add_argument("--arch", choices=sorted(EXPLAINERS), default="small_explainer")
    add_training_options(train, val_size=1000, batch_size=16)
    train.add_argument("--preset", choices=sorted(PRESETS), help="the paper's lr and loss weights")
    train.add_argument("--lr", type=float, help="learning rate (default: the preset's, else 1e-5)")
    defaults = LossWeights()
    for name in LOSS_WEIGHTS:
        train.add_argument(
            f"--{name.replace('_', '-')}",
            type=float,
            dest=name,
            help=f"loss weight {name} (default: the preset's, else {getattr(defaults, name)})",
        )
    train.add_argument(
        "--class-head-channels",
        type=int,
        help="small_explainer: full-resolution head channels per class (0: one shared 1x1 head; "
        "default 4)",
    )
    train.add_argument(
        "--no-init-from-classifier",
        action="store_true",
        help="start the small Explainer's encoder from random weights",
    )
    train.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = ExplainerTrainingConfig(
        arch=args.arch,
        preset=args.preset,
        lr=args.lr,
        weights=loss_weights(args.preset, **{k: getattr(args, k) for k in LOSS_WEIGHTS}),
        init_from_classifier=not args.no_init_from_classifier,
        arch_kwargs=_arch_kwargs(args),
        **loop_options(args),
    )
    history, is_main = fit_explainer(
        config, args.classifier, device=args.device, **data_options(args)
    )
    if is_main:
        print(f"trained {len(history)} epochs; best checkpoint: {args.out / 'best.pt'}")
    return 0


def _arch_kwargs(args: argparse.Namespace) -> dict[str, int]:
    if args.class_head_channels is None:
        return {}
    if args.arch != "small_explainer":
        raise ValueError(
            f"--class-head-channels applies to --arch small_explainer, not {args.arch!r}"
        )
    return {"class_head_channels": args.class_head_channels}
