"""``captum-explainer train-classifier``: a multi-label classifier to be explained."""

from __future__ import annotations

import argparse
from pathlib import Path

from captum_explainer.cli._common import (
    add_command,
    add_training_options,
    data_options,
    loop_options,
)
from captum_explainer.models.loading import CLASSIFIERS, TORCHVISION_PREFIX
from captum_explainer.training.classifier import ClassifierTrainingConfig, fit_classifier


def _architecture(value: str) -> str:
    if value in CLASSIFIERS or value.startswith(TORCHVISION_PREFIX):
        return value
    raise argparse.ArgumentTypeError(
        f"{value!r} is not one of {sorted(CLASSIFIERS)} nor torchvision:<name>"
    )


EPILOG = """example:
  captum-explainer train-classifier --out runs/cnn --epochs 20
  captum-explainer train-classifier --out runs/cnn --resume     # continue after an interruption
  captum-explainer train-classifier --out runs/resnet18 --dataset real_objects \\
      --model torchvision:resnet18 --precision bf16 --no-augment --train-size 400000
"""


def add_parser(commands: argparse._SubParsersAction) -> None:
    train = add_command(
        commands,
        "train-classifier",
        "train a multi-label classifier (BCE, Adam, early stopping)",
        EPILOG,
    )
    train.add_argument("--out", type=Path, required=True, help="folder for checkpoints and log")
    train.add_argument(
        "--arch",
        "--model",
        dest="arch",
        metavar="ARCH",
        type=_architecture,
        default="small_cnn",
        help=f"one of {sorted(CLASSIFIERS)} (vit_tiny: torchvision's ViT at ViT-Tiny's size), or "
        "torchvision:<name> for any torchvision classification model (e.g. "
        "torchvision:resnet18, torchvision:vit_b_16), trained from scratch or from --weights; "
        "vision transformers are built at the data's image side",
    )
    train.add_argument("--weights", type=Path, help="a state_dict to start from (your weights)")
    train.add_argument(
        "--no-augment",
        action="store_true",
        help="no random flips and turns (scenes drawn fresh every step need none)",
    )
    train.add_argument(
        "--lr", type=float, default=2e-3, help="peak learning rate (warm-up, cosine)"
    )
    add_training_options(train, val_size=2000, batch_size=128)
    train.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = ClassifierTrainingConfig(
        arch=args.arch,
        lr=args.lr,
        device=args.device,
        augment=not args.no_augment,
        init_weights=args.weights,
        **loop_options(args),
    )
    history = fit_classifier(config, **data_options(args))
    last = history[-1] if history else {}
    print(f"trained {len(history)} epochs; best checkpoint: {args.out / 'best.pt'}")
    if "val_mAP" in last:
        print(f"last epoch: val_loss={last['val_loss']:.4f} val_mAP={last['val_mAP']:.4f}")
    return 0
