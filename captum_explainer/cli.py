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
from typing import Any

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

EPILOG_DEMO = """examples:
  captum-explainer demo --out demo-output
  captum-explainer demo --retrain        # train the classifier and the Explainer first (long)
"""

EPILOG_EVALUATE = """examples:
  captum-explainer evaluate --dataset synthetic --n-images 200 --out eval-synthetic
  captum-explainer evaluate --dataset voc2007 --root data/voc --classifier runs/vgg16/best.pt \
      --explainer runs/voc/best.pt --methods explainer gradcam rise --out eval-voc
  torchrun --nproc_per_node=4 -m captum_explainer evaluate --dataset coco2014 --root data/coco ...
"""

EPILOG_EXPLAIN = """examples:
  captum-explainer explain photo.jpg --classifier runs/vgg16/best.pt --method gradcam --target dog
  captum-explainer explain a.png b.png --method explainer --target star   # shipped synthetic models
"""


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _build_parser() -> argparse.ArgumentParser:
    from captum_explainer import __version__
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
    demo.add_argument(
        "--retrain",
        action="store_true",
        help="train the classifier and the Explainer from scratch first (into OUT/models)",
    )
    _add_score(demo)
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
    train.add_argument(
        "--lr", type=float, default=2e-3, help="peak learning rate (warm-up, cosine)"
    )
    _add_training_options(train, val_size=2000, batch_size=128)
    train.set_defaults(run=_cmd_train_classifier)
    _add_train_explainer(commands)
    _add_evaluate(commands)
    _add_explain(commands)
    _add_benchmark(commands)
    return parser


EPILOG_BENCHMARK = """examples:
  captum-explainer benchmark --models small_cnn resnet50 --out benchmark.json
  captum-explainer benchmark --models tiny --repeats 1 --warmup 0     # a smoke run
"""


def _add_benchmark(commands: argparse._SubParsersAction) -> None:
    from captum_explainer.benchmark import CONFIGS

    bench = commands.add_parser(
        "benchmark",
        help="time every method against the bare model passes it needs",
        epilog=EPILOG_BENCHMARK,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument("--models", nargs="+", choices=sorted(CONFIGS), default=["small_cnn"])
    bench.add_argument("--repeats", type=int, default=3)
    bench.add_argument("--warmup", type=int, default=1)
    bench.add_argument("--no-peers", action="store_true", help="skip the Grad-CAM peers")
    bench.add_argument("--out", type=Path, help="write the rows as JSON here")
    _add_common(bench)
    bench.set_defaults(run=_cmd_benchmark)


def _cmd_benchmark(args: argparse.Namespace) -> int:
    import json

    import torch

    from captum_explainer.benchmark import benchmark_model, format_table, rows_as_dicts, summary
    from captum_explainer.checkpoint import atomic_write

    torch.manual_seed(args.seed)
    rows = []
    for model in args.models:
        rows += benchmark_model(
            model,
            torch.device(args.device),
            args.repeats,
            args.warmup,
            peers=not args.no_peers,
            progress=None
            if args.no_progress
            else (lambda name, m=model: print(f"[{m}] {name}", file=sys.stderr)),
        )
    print(format_table(rows))
    for line in summary(rows):
        print(line)
    if args.out is not None:
        text = json.dumps(
            {
                "rows": rows_as_dicts(rows),
                "summary": summary(rows),
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
            },
            indent=2,
        )
        atomic_write(args.out, lambda tmp: Path(tmp).write_text(text))
    return 0


def _add_score(parser: argparse.ArgumentParser) -> None:
    from captum_explainer.scores import TASK_SCORES

    parser.add_argument(
        "--score",
        choices=sorted(TASK_SCORES.values()),
        help="how the classifier's logits become the scores the methods explain and the "
        "faithfulness games read (default: from the classifier's task; the package's "
        "classifiers are multi-label: sigmoid)",
    )


def _add_models(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--classifier",
        type=Path,
        help="classifier checkpoint (default: the shipped synthetic classifier)",
    )
    parser.add_argument(
        "--explainer",
        type=Path,
        help="Explainer checkpoint (default with the shipped classifier: the shipped Explainer)",
    )


def _add_evaluate(commands: argparse._SubParsersAction) -> None:
    from captum_explainer.compare import METHOD_NAMES
    from captum_explainer.data.factory import DATASETS

    evaluate = commands.add_parser(
        "evaluate",
        help="the paper's evaluation of several methods on a dataset, as a report",
        epilog=EPILOG_EVALUATE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("--dataset", choices=DATASETS, default="synthetic")
    evaluate.add_argument("--root", type=Path, help="dataset folder (VOC or COCO)")
    _add_models(evaluate)
    evaluate.add_argument(
        "--methods",
        nargs="+",
        default=list(METHOD_NAMES),
        metavar="NAME",
        help=f"methods to run: {', '.join(METHOD_NAMES)} (default: all)",
    )
    evaluate.add_argument("--n-images", type=int, help="evaluate at most this many images")
    evaluate.add_argument("--batch-size", type=int, default=16)
    evaluate.add_argument("--image-size", type=int, help="image side (default: the classifier's)")
    evaluate.add_argument(
        "--rise-masks", type=int, default=4000, help="masks of RISE and undesirable pixels"
    )
    evaluate.add_argument("--fgvis-iterations", type=int, default=300)
    _add_score(evaluate)
    evaluate.add_argument(
        "--out", type=Path, default=Path("evaluation-output"), help="report folder"
    )
    _add_common(evaluate)
    evaluate.set_defaults(run=_cmd_evaluate)


def _add_explain(commands: argparse._SubParsersAction) -> None:
    from captum_explainer.compare import METHOD_NAMES

    explain = commands.add_parser(
        "explain",
        help="explain image files: save each map (.npy) and its overlay (.png)",
        epilog=EPILOG_EXPLAIN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    explain.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    _add_models(explain)
    explain.add_argument("--method", choices=sorted(METHOD_NAMES), default="gradcam")
    explain.add_argument("--target", help="class name or index (default: the top-1 prediction)")
    explain.add_argument("--out", type=Path, default=Path("explanations"), help="output folder")
    _add_common(explain)
    explain.set_defaults(run=_cmd_explain)


def _add_training_options(parser: argparse.ArgumentParser, val_size: int, batch_size: int) -> None:
    """The data, loop and common options both training commands take."""
    from captum_explainer.data.factory import DATASETS

    parser.add_argument("--dataset", choices=DATASETS, default="synthetic")
    parser.add_argument("--root", type=Path, help="dataset folder (VOC or COCO)")
    parser.add_argument(
        "--image-size", type=int, help="image side (default 64 synthetic, 224 real)"
    )
    parser.add_argument("--train-size", type=int, default=20000, help="synthetic training images")
    parser.add_argument(
        "--val-size", type=int, default=val_size, help="synthetic validation images"
    )
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--patience", type=int, default=5, help="early-stopping patience (epochs)")
    parser.add_argument("--max-steps-per-epoch", type=int, help="cap steps per epoch")
    parser.add_argument("--num-workers", type=int, default=0, help="data-loader workers")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    _add_common(parser)


def _add_train_explainer(commands: argparse._SubParsersAction) -> None:
    from captum_explainer.explainer.loss import PRESETS, LossWeights
    from captum_explainer.models.explainer_nets import EXPLAINERS

    train = commands.add_parser(
        "train-explainer",
        help="train an Explainer for a frozen classifier (one process, or many under torchrun)",
        epilog=EPILOG_TRAIN_EXPLAINER,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--out", type=Path, required=True, help="folder for checkpoints and log")
    train.add_argument(
        "--classifier",
        type=Path,
        help="classifier checkpoint (default: the shipped synthetic classifier)",
    )
    train.add_argument("--arch", choices=sorted(EXPLAINERS), default="small_explainer")
    _add_training_options(train, val_size=1000, batch_size=16)
    train.add_argument("--preset", choices=sorted(PRESETS), help="the paper's lr and loss weights")
    train.add_argument("--lr", type=float, help="learning rate (default: the preset's, else 1e-5)")
    defaults = LossWeights()
    for name in ("l_e", "l_tv", "l_ac", "l_m", "l_n", "a_min", "a_max"):
        train.add_argument(
            f"--{name.replace('_', '-')}",
            type=float,
            dest=name,
            help=f"loss weight {name} (default: the preset's, else {getattr(defaults, name)})",
        )
    train.add_argument(
        "--no-init-from-classifier",
        action="store_true",
        help="start the small Explainer's encoder from random weights",
    )
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
    history = train_classifier(
        config, data.require_train(), data.val, data.classes, data.normalization
    )
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
    overrides = {
        k: getattr(args, k) for k in dataclasses.asdict(base) if getattr(args, k) is not None
    }
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
        history = train_explainer(
            config,
            classifier,
            data.require_train(),
            data.val,
            data.classes,
            data.normalization,
            context,
        )
    finally:
        cleanup_distributed()
    if context.is_main:
        print(f"trained {len(history)} epochs; best checkpoint: {args.out / 'best.pt'}")
    return 0


def _load_models(args: argparse.Namespace, need_explainer: bool) -> tuple[Any, Any, dict]:
    """The classifier, the Explainer (or None) and the classifier's checkpoint metadata."""
    from captum_explainer.models.pretrained import SYNTHETIC_CLASSIFIER, SYNTHETIC_EXPLAINER
    from captum_explainer.models.registry import load_classifier, load_explainer

    classifier_path = args.classifier or SYNTHETIC_CLASSIFIER
    classifier, meta = load_classifier(classifier_path, map_location=args.device)
    explainer_path = args.explainer or (SYNTHETIC_EXPLAINER if args.classifier is None else None)
    explainer = None
    if explainer_path is not None and (need_explainer or args.explainer is not None):
        explainer, _ = load_explainer(explainer_path, map_location=args.device)
    return classifier, explainer, meta


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from captum_explainer.compare import default_methods, select_methods
    from captum_explainer.data import Normalization
    from captum_explainer.data.factory import make_datasets
    from captum_explainer.data.loading import evaluable_indices
    from captum_explainer.distributed import cleanup_distributed, setup_distributed
    from captum_explainer.evaluation import evaluate
    from captum_explainer.report import write_report
    from captum_explainer.scores import score_for_task
    from captum_explainer.visualization import comparison_grid

    classifier, explainer, meta = _load_models(args, need_explainer="explainer" in args.methods)
    image_size = args.image_size or int(meta["image_size"][0])
    stats = meta["normalization"]
    data = make_datasets(
        args.dataset,
        args.root,
        image_size,
        train_size=1,
        val_size=args.n_images or 200,
        seed=args.seed,
        classes=list(meta["classes"]),
        normalization=Normalization(tuple(stats["mean"]), tuple(stats["std"])),
    )
    indices = evaluable_indices(data.val, args.n_images)
    masks = dict(n_masks=args.rise_masks)
    settings = {
        "RISE": masks,
        "Undesirable pixels": masks,
        "FGVis": dict(n_iter=args.fgvis_iterations),
    }
    score = args.score or score_for_task(meta.get("task", "multilabel"))
    specs = default_methods(
        classifier, explainer, data.normalization, args.seed, settings, score=score
    )
    methods = select_methods(specs, args.methods)
    context = setup_distributed(args.device)
    try:
        result = evaluate(
            methods,
            classifier,
            data.val,
            indices,
            args.batch_size,
            context,
            progress=not args.no_progress,
            score=score,
        )
    finally:
        cleanup_distributed()
    if result is None:  # not rank 0
        return 0
    figures = {}
    if result.first_batch is not None:
        figures["comparison_grid"] = comparison_grid(
            result.first_batch, data.normalization, class_names=data.classes
        )
    rows = result.rows()
    notes = [
        f"{args.dataset}: {len(indices)} images with a segmentation and a label; "
        f"classifier {args.classifier or 'shipped'}; methods {', '.join(args.methods)}; "
        f"faithfulness read with the {score} score."
    ]
    report = write_report(
        args.out, rows, figures, title=f"captum-explainer evaluation ({args.dataset})", notes=notes
    )
    _print_rows(rows)
    print(f"wrote {report}")
    return 0


def _print_rows(rows: list[dict]) -> None:
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print(
            "| "
            + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values())
            + " |"
        )


def _cmd_explain(args: argparse.Namespace) -> int:
    from captum_explainer.explain import explain_files

    classifier, explainer, meta = _load_models(args, need_explainer=args.method == "explainer")
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


def _cmd_demo(args: argparse.Namespace) -> int:
    from captum_explainer.demo import run_demo
    from captum_explainer.scores import score_for_task

    classifier = explainer = None
    if args.retrain:
        classifier, explainer = _retrain(args)
    report = run_demo(
        args.out,
        n_images=args.n_images,
        seed=args.seed,
        device=args.device,
        progress=not args.no_progress,
        classifier=classifier,
        explainer=explainer,
        score=args.score or score_for_task("multilabel"),  # the synthetic world's classifiers
    )
    print(f"wrote {report}")
    return 0


def _retrain(args: argparse.Namespace) -> tuple[Any, Any]:
    """Train both models with the commands recorded in the shipped manifests."""
    from captum_explainer.models.pretrained import (
        SYNTHETIC_CLASSIFIER,
        SYNTHETIC_EXPLAINER,
        manifest,
    )
    from captum_explainer.models.registry import load_classifier, load_explainer

    runs = args.out.parent / f"{args.out.name}-models"
    classifier_argv = shlex.split(manifest(SYNTHETIC_CLASSIFIER)["command"])[1:]
    classifier_argv = _replace_option(classifier_argv, "--out", str(runs / "classifier"))
    if main(classifier_argv + ["--device", args.device]) != 0:
        raise RuntimeError("retraining the classifier failed")
    explainer_argv = shlex.split(manifest(SYNTHETIC_EXPLAINER)["command"])[1:]
    explainer_argv = _replace_option(explainer_argv, "--out", str(runs / "explainer"))
    explainer_argv = _replace_option(
        explainer_argv, "--classifier", str(runs / "classifier" / "best.pt")
    )
    if main(explainer_argv + ["--device", args.device]) != 0:
        raise RuntimeError("retraining the Explainer failed")
    classifier, _ = load_classifier(runs / "classifier" / "best.pt", map_location=args.device)
    explainer, _ = load_explainer(runs / "explainer" / "best.pt", map_location=args.device)
    return classifier, explainer


def _replace_option(argv: list[str], option: str, value: str) -> list[str]:
    """``argv`` with ``option``'s value set to ``value`` (added if absent)."""
    out = list(argv)
    if option in out:
        out[out.index(option) + 1] = value
    else:
        out += [option, value]
    return out


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
