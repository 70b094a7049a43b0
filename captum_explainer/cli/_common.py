"""What several commands share: their common options and how a command is declared."""

from __future__ import annotations

import argparse
import ast
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from captum_explainer.data.factory import DATASETS
from captum_explainer.evaluation.registry import method_records, refuse_unknown, with_shorthands
from captum_explainer.explainer.loss import TASKS
from captum_explainer.metrics import CANVASES
from captum_explainer.models.inference import PRECISIONS
from captum_explainer.models.user import OwnClassifier
from captum_explainer.scores import TASK_SCORES


def add_command(
    commands: argparse._SubParsersAction, name: str, help: str, epilog: str
) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` shows ``epilog`` (its examples) as written."""
    return commands.add_parser(
        name, help=help, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def add_score(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--score",
        choices=sorted(TASK_SCORES.values()),
        help="how the classifier's logits become the scores the methods explain and the "
        "faithfulness games read (default: from the classifier's task; the package's "
        "classifiers are multi-label: sigmoid)",
    )


def add_canvas(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--canvas",
        choices=CANVASES,
        default="blur",
        help="what insertion reveals pixels on: a strong blur (default), the RISE paper's blur, "
        "each image's mean colour, or the deletion baseline",
    )


def add_road(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--road",
        action="store_true",
        help="also ROAD (remove and debias: removed pixels imputed from their neighbours, "
        "MoRF and LeRF at 10-90 %%); about 20x the deletion game's cost on a CPU",
    )


def add_single_file(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--single-file",
        action="store_true",
        help="embed the figures in report.html: one file to share (CI artifact, e-mail)",
    )


def add_models(parser: argparse.ArgumentParser) -> None:
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
    parser.add_argument(
        "--amortized",
        type=Path,
        help="amortized RISE checkpoint from train-amortized (default with the shipped "
        "classifier: the shipped one); the same as --network amortized-rise=PATH",
    )
    parser.add_argument(
        "--network",
        nargs="+",
        default=[],
        metavar="KEY=PATH",
        help="a method's own trained network, by the key its record names (explainer, "
        "amortized-rise, a plug-in's); --explainer and --amortized are shorthands",
    )


def network_options(args: argparse.Namespace) -> dict[str, Path]:
    """The networks the options name, key -> checkpoint (``--network KEY=PATH``, and the
    shorthands ``--explainer`` and ``--amortized``)."""
    paths = {key: Path(value) for key, value in parse_pairs(args.network, "--network").items()}
    return with_shorthands(paths, args.explainer, args.amortized)


def add_work(parser: argparse.ArgumentParser) -> None:
    """``--work KEY=N``: a work count for every method whose record counts its work by
    that keyword, and 0.3's two spellings of it."""
    units = sorted({r.work_arg for r in method_records() if r.work_arg})
    parser.add_argument(
        "--work",
        nargs="+",
        default=[],
        metavar="KEY=N",
        help=f"work counts by keyword, for every method that has one ({', '.join(units)}), "
        f"e.g. --work n_masks=1000 n_iter=100 (default: the methods' presets)",
    )
    parser.add_argument("--rise-masks", type=int, help="deprecated: --work n_masks=N")
    parser.add_argument("--fgvis-iterations", type=int, help="deprecated: --work n_iter=N")


def work_options(args: argparse.Namespace) -> dict[str, int]:
    """The work counts ``--work`` names (0.3's ``--rise-masks`` and ``--fgvis-iterations``
    folded in, with a warning): keyword -> count."""
    work = parse_pairs(args.work, "--work")
    for option, keyword, value in (
        ("--rise-masks", "n_masks", args.rise_masks),
        ("--fgvis-iterations", "n_iter", args.fgvis_iterations),
    ):
        if value is not None:
            print(
                f"warning: {option} is deprecated and will be removed in 0.5; use --work "
                f"{keyword}={value}",
                file=sys.stderr,
            )
            work.setdefault(keyword, value)
    bad = {k: v for k, v in work.items() if not isinstance(v, int) or v < 1}
    if bad:
        key = next(iter(bad))
        raise ValueError(f"--work {key}={bad[key]!r}: a work count must be an integer >= 1")
    refuse_unknown(list(work), [r.work_arg for r in method_records() if r.work_arg], "--work")
    return work


def add_training_options(parser: argparse.ArgumentParser, val_size: int, batch_size: int) -> None:
    """The data, loop and common options both training commands take."""
    parser.add_argument("--dataset", choices=DATASETS, default="synthetic")
    parser.add_argument("--root", type=Path, help="dataset folder (VOC or COCO)")
    parser.add_argument(
        "--image-size",
        type=int,
        help="image side (default 64 synthetic, 128 real_objects, 224 VOC/COCO)",
    )
    parser.add_argument("--train-size", type=int, default=20000, help="generated training images")
    parser.add_argument(
        "--val-size", type=int, default=val_size, help="generated validation images"
    )
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--patience", type=int, default=5, help="early-stopping patience (epochs)")
    parser.add_argument("--max-steps-per-epoch", type=int, help="cap steps per epoch")
    parser.add_argument("--num-workers", type=int, default=0, help="data-loader workers")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="bf16: the networks' forward passes under bfloat16 autocast (weights and losses "
        "stay float32; several times faster on CPUs with AVX-512 BF16)",
    )
    add_common(parser)


def data_options(args: argparse.Namespace) -> dict[str, Any]:
    """The dataset keywords of the training library functions, from the parsed options."""
    return dict(
        dataset=args.dataset,
        root=args.root,
        image_size=args.image_size,
        train_size=args.train_size,
        val_size=args.val_size,
    )


def loop_options(args: argparse.Namespace) -> dict[str, Any]:
    """The settings both training configurations take, from the parsed options."""
    return dict(
        out_dir=args.out,
        epochs=args.epochs,
        batch_size=args.batch_size,
        patience=args.patience,
        seed=args.seed,
        resume=args.resume,
        max_steps_per_epoch=args.max_steps_per_epoch,
        progress=not args.no_progress,
        num_workers=args.num_workers,
        precision=args.precision,
        command=shlex.join(["captum-explainer", *args.argv]),
    )


def add_own_classifier(parser: argparse.ArgumentParser, data: bool = True) -> None:
    """``--model`` and what describes it (and ``--data``): a user's classifier and images."""
    yours = parser.add_argument_group("your own classifier and images")
    yours.add_argument(
        "--model",
        help="torchvision:<name> (with --weights and --num-classes), timm:<name> (with "
        "--num-classes), hf:<folder> (a save_pretrained folder, read offline), "
        "<module>:<callable> returning an nn.Module, or a train-classifier checkpoint",
    )
    yours.add_argument(
        "--model-kwargs",
        nargs="+",
        metavar="KEY=VALUE",
        help="keyword arguments of a <module>:<callable> or timm model (values read as Python "
        "literals, else as text), e.g. depth=4 drop_rate=0.1",
    )
    yours.add_argument("--weights", type=Path, help="the model's state_dict file")
    yours.add_argument("--num-classes", type=int, help="size of a torchvision or timm model's head")
    if data:
        yours.add_argument(
            "--data", type=Path, help="a folder of class folders, or a .csv/.json image listing"
        )
    yours.add_argument("--classes", nargs="+", help="class names in the model's output order")
    yours.add_argument("--task", choices=TASKS, help="default: single-label for a class folder")
    yours.add_argument("--mean", type=float, nargs="+", help="normalisation mean per channel")
    yours.add_argument("--std", type=float, nargs="+", help="normalisation std per channel")
    yours.add_argument("--channels", type=int, help="image channels (1 or 3; default from --mean)")


def own_classifier(args: argparse.Namespace, default: str) -> OwnClassifier:
    """The :class:`OwnClassifier` the options name (``default``: the model when no
    ``--model`` is given, e.g. ``--classifier`` or the shipped one)."""
    fields = ("weights", "num_classes", "classes", "task", "mean", "std", "image_size", "channels")
    return OwnClassifier(
        args.model or default,
        **{name: getattr(args, name) for name in fields},
        model_kwargs=parse_model_kwargs(args.model_kwargs),
    )


def parse_model_kwargs(
    pairs: Sequence[str] | None, option: str = "--model-kwargs"
) -> dict[str, Any] | None:
    """``["depth=4", "name=big"]`` as ``{"depth": 4, "name": "big"}``: each value read as a
    Python literal where it is one, else kept as text (``None`` for no pairs)."""
    kwargs = parse_pairs(pairs, option)
    bad = [key for key in kwargs if not key.isidentifier()]
    if bad:
        raise ValueError(f"{option} takes KEY=VALUE pairs with Python names, got {bad[0]!r}")
    return kwargs or None


def parse_pairs(pairs: Sequence[str] | None, option: str) -> dict[str, Any]:
    """``KEY=VALUE`` pairs of ``option`` as a dictionary, each value read as a Python
    literal where it is one, else kept as text; keys may hold ``-`` (record keys do)."""
    kwargs: dict[str, Any] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.replace("-", "_").isidentifier():
            raise ValueError(f"{option} takes KEY=VALUE pairs, got {pair!r}")
        try:
            kwargs[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            kwargs[key] = value
    return kwargs
