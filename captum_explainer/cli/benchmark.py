"""``captum-explainer benchmark``: what every method costs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from captum_explainer.cli._common import add_command, add_common
from captum_explainer.evaluation.registry import method_keys
from captum_explainer.machine import machine_line
from captum_explainer.tasks.benchmark import (
    CONFIGS,
    format_table,
    run_benchmarks,
    scaling_warnings,
    summary,
)

EPILOG = """examples:
  captum-explainer benchmark --models small_cnn resnet50 --out benchmark.json
  captum-explainer benchmark --models tiny --repeats 1 --warmup 0     # a smoke run
"""


def add_parser(commands: argparse._SubParsersAction) -> None:
    bench = add_command(
        commands,
        "benchmark",
        "time every method against the bare model passes it needs",
        EPILOG,
    )
    bench.add_argument("--models", nargs="+", choices=sorted(CONFIGS), default=["small_cnn"])
    bench.add_argument(
        "--methods",
        nargs="+",
        choices=method_keys(),
        help="only these methods (default: every method and the sanity run)",
    )
    bench.add_argument("--repeats", type=int, default=3)
    bench.add_argument("--warmup", type=int, default=1)
    bench.add_argument("--no-peers", action="store_true", help="skip the Grad-CAM peers")
    bench.add_argument("--out", type=Path, help="write the rows as JSON here")
    bench.add_argument(
        "--no-fresh-peaks",
        action="store_true",
        help="measure peak memory in this process (faster, but later methods reuse what "
        "earlier ones freed) instead of one fresh process per method",
    )
    add_common(bench)
    bench.set_defaults(run=run)


def _announce(model: str, method: str) -> None:
    print(f"[{model}] {method}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    torch.manual_seed(args.seed)
    rows = run_benchmarks(
        args.models,
        args.device,
        args.repeats,
        args.warmup,
        peers=not args.no_peers,
        progress=None if args.no_progress else _announce,
        out=args.out,
        fresh_peaks=not args.no_fresh_peaks,
        keys=args.methods,
    )
    print(f"machine: {machine_line()}")
    print(format_table(rows))
    for line in summary(rows):
        print(line)
    warnings = scaling_warnings(rows)
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    if not warnings:
        print("self-check: every method's time follows its work (within 20 %)")
    return 0
