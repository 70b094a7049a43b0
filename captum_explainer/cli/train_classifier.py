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
from captum_explainer.models.registry import CLASSIFIERS
from captum_explainer.training.classifier import ClassifierTrainingConfig, fit_classifier

EPILOG = """example:
  captum-explainer train-classifier --out runs/cnn --epochs 20
  captum-explainer train-classifier --out runs/cnn --resume     # continue after an interruption
"""


def add_parser(commands: argparse._SubParsersAction) -> None:
    train = add_command(
        commands,
        "train-classifier",
        "train a multi-label classifier (BCE, Adam, early stopping)",
        EPILOG,
    )
    train.add_argument("--out", type=Path, required=True, help="folder for checkpoints and log")
    train.add_argument("--arch", choices=sorted(CLASSIFIERS), default="small_cnn")
    train.add_argument(
        "--lr", type=float, default=2e-3, help="peak learning rate (warm-up, cosine)"
    )
    add_training_options(train, val_size=2000, batch_size=128)
    train.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = ClassifierTrainingConfig(
        arch=args.arch, lr=args.lr, device=args.device, **loop_options(args)
    )
    history = fit_classifier(config, **data_options(args))
    last = history[-1] if history else {}
    print(f"trained {len(history)} epochs; best checkpoint: {args.out / 'best.pt'}")
    if "val_mAP" in last:
        print(f"last epoch: val_loss={last['val_loss']:.4f} val_mAP={last['val_mAP']:.4f}")
    return 0
