"""``captum-explainer explain``: one map and overlay per image file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from captum_explainer.cli._common import (
    add_command,
    add_common,
    add_models,
    add_own_classifier,
    network_options,
    own_classifier,
)
from captum_explainer.evaluation.registry import method_keys, method_record, records_with
from captum_explainer.tasks.explain import explain_files
from captum_explainer.tasks.task_setup import load_networks, set_up

EPILOG = """examples:
  captum-explainer explain photo.jpg --classifier runs/vgg16/best.pt --method gradcam --target dog
  captum-explainer explain a.png b.png --method explainer --target star   # shipped synthetic models
  captum-explainer explain photos/ --recursive --out maps   # a folder: maps mirror its layout
  captum-explainer explain x.png --model torchvision:resnet18 --weights my.pt --num-classes 5 \
      --classes a b c d e --method explainer --explainer runs/mine/best.pt

exit status: 0 every image explained; 1 some images could not be read (each listed on
stderr, the others explained; --strict stops at the first instead); 2 an error, nothing done
"""


def add_parser(commands: argparse._SubParsersAction) -> None:
    explain = add_command(
        commands,
        "explain",
        "explain image files or folders: save each map (.npy) and its overlay (.png)",
        EPILOG,
    )
    explain.add_argument(
        "images", nargs="+", type=Path, metavar="IMAGE", help="image files and/or folders"
    )
    explain.add_argument(
        "--recursive", action="store_true", help="walk subfolders of the folders given too"
    )
    explain.add_argument("--batch-size", type=int, default=16, help="images explained together")
    add_models(explain)
    add_own_classifier(explain, data=False)
    explain.add_argument(
        "--image-size", type=int, help="with --model: the side images are resized to"
    )
    explain.add_argument(
        "--method",
        choices=method_keys(),
        default=next((r.key for r in records_with("explain_default")), method_keys()[0]),
        help="the method (default: the one whose record says so, Grad-CAM)",
    )
    explain.add_argument("--target", help="class name or index (default: the top-1 prediction)")
    explain.add_argument("--out", type=Path, default=Path("explanations"), help="output folder")
    explain.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first image that cannot be read (default: explain the others, list "
        "the unreadable ones and exit with status 1)",
    )
    add_common(explain)
    explain.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    record = method_record(args.method)
    paths = network_options(args)
    if args.model is not None:
        classifier, info = own_classifier(args, args.model).load()
        meta = info.as_meta()
        classifier = classifier.to(args.device).eval()
        # A user's model: only the networks given; the shipped ones explain the shipped model.
        networks = load_networks([record], paths, False, args.device)
    else:
        setup = set_up(args.classifier, device=args.device, networks=paths, methods=[record.key])
        classifier, meta, networks = setup.classifier, setup.as_meta(), setup.networks
    unreadable: list[tuple[Path, str]] = []
    written = explain_files(
        args.images,
        classifier,
        None,
        meta,
        args.method,
        args.target,
        args.out,
        seed=args.seed,
        device=args.device,
        recursive=args.recursive,
        batch_size=args.batch_size,
        skipped=lambda line: print(line, file=sys.stderr),
        networks=networks,
        strict=args.strict,
        unreadable=lambda path, why: unreadable.append((path, why)),
    )
    for path in written:
        print(path)
    for path, why in unreadable:
        print(f"skipped {str(path)!r}: {why}", file=sys.stderr)
    print(
        f"captum-explainer explain: {len(written) // 2} map(s) written to {str(args.out)!r}"
        + (f"; {len(unreadable)} image(s) could not be read (listed above)" if unreadable else ""),
        file=sys.stderr,
    )
    # Status 1: a partial result (some images skipped); 2: an error, nothing done.
    return 1 if unreadable else 0
