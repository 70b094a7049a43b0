"""``captum-explainer train-explainer``: an Explainer for a frozen classifier."""

from __future__ import annotations

import argparse
from pathlib import Path

from captum_explainer.cli._common import (
    add_command,
    add_own_classifier,
    add_training_options,
    data_options,
    loop_options,
    own_classifier,
)
from captum_explainer.data.user_images import data_task, folder_classes
from captum_explainer.explainer.fit import fit_explainer
from captum_explainer.explainer.loss import (
    CLASS_SPECIFIC_WEIGHTS,
    PRESETS,
    LossWeights,
    loss_weights,
)
from captum_explainer.explainer.train import ExplainerTrainingConfig, run_explainer_training
from captum_explainer.models.explainer_nets import EXPLAINERS
from captum_explainer.models.loading import PRESENCE_ARCHS
from captum_explainer.models.pretrained import SYNTHETIC_CLASSIFIER

EPILOG = """examples:
  captum-explainer train-explainer --out runs/explainer                # synthetic data, shipped classifier
  captum-explainer train-explainer --out runs/mine --model torchvision:resnet18 --weights my.pt \
      --num-classes 5 --data my_images/ --image-size 224              # your own classifier and images
  captum-explainer train-explainer --out runs/gray --model my_pkg.models:build --data train.csv \
      --task multilabel --mean 0.5 --std 0.25 --image-size 28
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
    add_own_classifier(train)
    train.add_argument(
        "--val-data", type=Path, help="validation images (default: a share of --data)"
    )
    train.add_argument(
        "--val-fraction", type=float, default=0.1, help="share of --data kept for validation"
    )
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
        "--paper-loss",
        action="store_true",
        help="with --data: the paper's loss alone (default there: the class-specific recipe, "
        "--a-max 0.15 --l-absent 1 --l-sep 1)",
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
    train.add_argument(
        "--presence",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="resnet*_fpn: add presence logits (off by default: on the real-objects world "
        "they let the Explainer empty the masks of present classes, docs/real-objects.md)",
    )
    train.add_argument(
        "--encoder-weights",
        type=Path,
        help="resnet*_fpn: start the encoder from this ResNet state_dict file or classifier "
        "checkpoint instead of the classifier's backbone (for a classifier that is not a "
        "ResNet, e.g. a ViT; e.g. torchvision's ImageNet weights file)",
    )
    train.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.data is not None:
        return _run_own(args)
    if args.model is not None:
        raise ValueError(f"--model {args.model!r} needs --data, the images to train on")
    config = ExplainerTrainingConfig(
        arch=args.arch,
        preset=args.preset,
        lr=args.lr,
        weights=loss_weights(args.preset, **{k: getattr(args, k) for k in LOSS_WEIGHTS}),
        init_from_classifier=not args.no_init_from_classifier,
        encoder_weights=args.encoder_weights,
        arch_kwargs=_arch_kwargs(args),
        **loop_options(args),
    )
    history, is_main = run_explainer_training(
        config, args.classifier, device=args.device, **data_options(args)
    )
    if is_main:
        print(f"trained {len(history)} epochs; best checkpoint: {args.out / 'best.pt'}")
    return 0


def _arch_kwargs(args: argparse.Namespace) -> dict[str, int | bool]:
    kwargs: dict[str, int | bool] = {}
    if args.class_head_channels is not None:
        if args.arch != "small_explainer":
            raise ValueError(
                f"--class-head-channels applies to --arch small_explainer, not {args.arch!r}"
            )
        kwargs["class_head_channels"] = args.class_head_channels
    if args.presence is not None:
        option = "--presence" if args.presence else "--no-presence"
        if args.arch not in PRESENCE_ARCHS:
            raise ValueError(
                f"{option} applies to --arch {' or '.join(PRESENCE_ARCHS)}, not {args.arch!r}"
            )
        kwargs["presence"] = args.presence
    return kwargs


def _run_own(args: argparse.Namespace) -> int:
    """``--model`` / ``--classifier`` with ``--data``: :func:`fit_explainer`."""
    if args.model is not None and args.classifier is not None:
        raise ValueError("give --model or --classifier, not both")
    own = own_classifier(args, str(args.classifier or SYNTHETIC_CLASSIFIER))
    model, info = own.load(folder_classes(args.data), data_task(args.data))
    settings = loop_options(args)
    out = settings.pop("out_dir")
    settings["extra_meta"] = {"classifier": own.model, "classifier_weights": str(args.weights)}
    # fit_explainer's recipe: class-specific terms on, unless --paper-loss or a preset.
    base = LossWeights() if args.paper_loss else CLASS_SPECIFIC_WEIGHTS
    lr, weights = (
        args.lr or 1e-3,
        loss_weights(args.preset, base, **{k: getattr(args, k) for k in LOSS_WEIGHTS}),
    )
    fit_explainer(
        model,
        args.data,
        out,
        val_data=args.val_data,
        classes=list(info.classes),
        task=info.task,
        normalization=info.normalization,
        image_size=info.image_size,
        val_fraction=args.val_fraction,
        arch=args.arch,
        lr=lr,
        weights=weights,
        device=args.device,
        init_from_classifier=not args.no_init_from_classifier,
        encoder_weights=args.encoder_weights,
        arch_kwargs=_arch_kwargs(args),
        **settings,
    )
    print(f"trained an Explainer for {own.model}; best checkpoint: {out / 'best.pt'}")
    return 0
