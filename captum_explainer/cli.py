"""The ``captum-explainer`` command line: parse, call the library, print.

Each subcommand lives in a small ``_cmd_*`` function; the work itself is in the library,
so everything here is also reachable from Python.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

EPILOG_TRAIN_CLASSIFIER = """example:
  captum-explainer train-classifier --out runs/cnn --epochs 20
  captum-explainer train-classifier --out runs/cnn --resume     # continue after an interruption
"""

EPILOG_TRAIN_EXPLAINER = """examples:
  captum-explainer train-explainer --out runs/explainer                # synthetic data, shipped classifier
  captum-explainer train-explainer --out runs/voc --dataset voc2007 --root data/voc \
      --classifier runs/vgg16/best.pt --arch deeplabv3_resnet50 --preset vgg16-voc
  torchrun --nproc_per_node=2 -m captum_explainer train-explainer --out runs/ddp   # many processes
"""

EPILOG_DEMO = """example:
  captum-explainer demo --out demo-output
"""


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _build_parser() -> argparse.ArgumentParser:
    from captum_explainer import __version__
    from captum_explainer.data.factory import DATASETS
    from captum_explainer.models.registry import CLASSIFIERS

    parser = argparse.ArgumentParser(
        prog="captum-explainer",
        description="Explain image classifiers: a learned Explainer and classic attribution "
        "methods behind Captum's interface, with metrics and figures to compare them.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="explain fresh synthetic images with the shipped models and write a report",
        epilog=EPILOG_DEMO,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--out", type=Path, default=Path("demo-output"), help="output folder")
    demo.add_argument("--n-images", type=int, default=8, help="images to explain (default 8)")
    _add_common(demo)
    demo.set_defaults(run=_cmd_demo)

    train = commands.add_parser(
        "train-classifier",
        help="train a multi-label classifier (BCE, Adam, early stopping)",
        epilog=EPILOG_TRAIN_CLASSIFIER,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--out", type=Path, required=True, help="folder for checkpoints and log")
    train.add_argument("--arch", choices=sorted(CLASSIFIERS), default="small_cnn")
    train.add_argument("--dataset", choices=DATASETS, default="synthetic")
    train.add_argument("--root", type=Path, help="dataset folder (VOC or COCO)")
    train.add_argument("--image-size", type=int, help="image side (default 64 synthetic, 224 real)")
    train.add_argument("--train-size", type=int, default=20000, help="synthetic training images")
    train.add_argument("--val-size", type=int, default=2000, help="synthetic validation images")
    train.add_argument("--epochs", type=int, default=30)
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (one-cycle)")
    train.add_argument("--patience", type=int, default=5, help="early-stopping patience (epochs)")
    train.add_argument("--max-steps-per-epoch", type=int, help="cap steps per epoch (smoke runs)")
    train.add_argument("--num-workers", type=int, default=0, help="data-loader workers")
    train.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    _add_common(train)
    train.set_defaults(run=_cmd_train_classifier)
    _add_train_explainer(commands)
    return parser


def _add_train_explainer(commands: argparse._SubParsersAction) -> None:
    from captum_explainer.data.factory import DATASETS
    from captum_explainer.explainer.loss import PRESETS, LossWeights
    from captum_explainer.models.explainer_nets import EXPLAINERS

    train = commands.add_parser(
        "train-explainer",
        help="train an Explainer for a frozen classifier (one process, or many under torchrun)",
        epilog=EPILOG_TRAIN_EXPLAINER,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--out", type=Path, required=True, help="folder for checkpoints and log")
    train.add_argument("--classifier", type=Path,
                       help="classifier checkpoint (default: the shipped synthetic classifier)")
    train.add_argument("--arch", choices=sorted(EXPLAINERS), default="small_explainer")
    train.add_argument("--dataset", choices=DATASETS, default="synthetic")
    train.add_argument("--root", type=Path, help="dataset folder (VOC or COCO)")
    train.add_argument("--image-size", type=int, help="image side (default 64 synthetic, 224 real)")
    train.add_argument("--train-size", type=int, default=20000, help="synthetic training images")
    train.add_argument("--val-size", type=int, default=1000, help="synthetic validation images")
    train.add_argument("--epochs", type=int, default=30)
    train.add_argument("--batch-size", type=int, default=16)
    train.add_argument("--preset", choices=sorted(PRESETS), help="the paper's lr and loss weights")
    train.add_argument("--lr", type=float, help="learning rate (default: the preset's, else 1e-5)")
    defaults = LossWeights()
    for name in ("l_e", "l_tv", "l_ac", "l_m", "l_n", "a_min", "a_max"):
        train.add_argument(f"--{name.replace('_', '-')}", type=float, dest=name,
                           help=f"loss weight {name} (default: the preset's, else {getattr(defaults, name)})")
    train.add_argument("--patience", type=int, default=5, help="early-stopping patience (epochs)")
    train.add_argument("--max-steps-per-epoch", type=int, help="cap steps per epoch")
    train.add_argument("--num-workers", type=int, default=0, help="data-loader workers")
    train.add_argument("--no-init-from-classifier", action="store_true",
                       help="start the small Explainer's encoder from random weights")
    train.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    _add_common(train)
    train.set_defaults(run=_cmd_train_explainer)


def _cmd_train_classifier(args: argparse.Namespace) -> int:
    from captum_explainer.data.factory import make_datasets
    from captum_explainer.training.classifier import ClassifierTrainingConfig, train_classifier

    data = make_datasets(
        args.dataset, args.root, args.image_size, args.train_size, args.val_size, args.seed
    )
    config = ClassifierTrainingConfig(
        out_dir=args.out,
        arch=args.arch,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        patience=args.patience,
        seed=args.seed,
        device=args.device,
        resume=args.resume,
        max_steps_per_epoch=args.max_steps_per_epoch,
        progress=not args.no_progress,
        num_workers=args.num_workers,
        command=shlex.join(["captum-explainer", *args.argv]),
    )
    history = train_classifier(config, data.train, data.val, data.classes, data.normalization)
    last = history[-1] if history else {}
    print(f"trained {len(history)} epochs; best checkpoint: {args.out / 'best.pt'}")
    if "val_mAP" in last:
        print(f"last epoch: val_loss={last['val_loss']:.4f} val_mAP={last['val_mAP']:.4f}")
    return 0


def _cmd_train_explainer(args: argparse.Namespace) -> int:
    import dataclasses

    from captum_explainer.data.factory import make_datasets
    from captum_explainer.distributed import cleanup_distributed, setup_distributed
    from captum_explainer.explainer.loss import PRESETS, LossWeights
    from captum_explainer.explainer.train import ExplainerTrainingConfig, train_explainer
    from captum_explainer.models.pretrained import SYNTHETIC_CLASSIFIER
    from captum_explainer.models.registry import load_classifier

    classifier_path = args.classifier or SYNTHETIC_CLASSIFIER
    classifier, _ = load_classifier(classifier_path)
    data = make_datasets(
        args.dataset, args.root, args.image_size, args.train_size, args.val_size, args.seed
    )
    base = PRESETS[args.preset][1] if args.preset else LossWeights()
    overrides = {k: getattr(args, k) for k in dataclasses.asdict(base) if getattr(args, k) is not None}
    config = ExplainerTrainingConfig(
        out_dir=args.out,
        arch=args.arch,
        preset=args.preset,
        lr=args.lr,
        weights=dataclasses.replace(base, **overrides),
        epochs=args.epochs,
        batch_size=args.batch_size,
        patience=args.patience,
        seed=args.seed,
        resume=args.resume,
        max_steps_per_epoch=args.max_steps_per_epoch,
        progress=not args.no_progress,
        num_workers=args.num_workers,
        init_from_classifier=not args.no_init_from_classifier,
        command=shlex.join(["captum-explainer", *args.argv]),
        extra_meta={"classifier": str(classifier_path)},
    )
    context = setup_distributed(args.device)
    try:
        history = train_explainer(config, classifier, data.train, data.val, data.classes,
                                  data.normalization, context)
    finally:
        cleanup_distributed()
    if context.is_main:
        print(f"trained {len(history)} epochs; best checkpoint: {args.out / 'best.pt'}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from captum_explainer.demo import run_demo

    report = run_demo(args.out, n_images=args.n_images, seed=args.seed, device=args.device,
                      progress=not args.no_progress)
    print(f"wrote {report}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``captum-explainer`` and ``python -m captum_explainer``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        return args.run(args)
    except (ValueError, KeyError, FileNotFoundError, RuntimeError) as error:
        # Library errors carry a message that names the problem; a traceback adds nothing.
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"captum-explainer {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
