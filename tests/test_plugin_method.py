"""A method registered from outside the package, through the public API only, appears in
every application: the demo's table, ``evaluate``'s table, the sanity checks (it depends on
the model), the benchmark and ``explain --method``, with no change to any package file.

This file is the whole plug-in: an attribution class and its record."""

from __future__ import annotations

import csv
from typing import Any

import numpy as np
import pytest
import torch
from captum.attr import GradientAttribution
from PIL import Image

from captum_explainer.cli import build_parser, main
from captum_explainer.data import SyntheticScenes
from captum_explainer.evaluation import (
    MethodRecord,
    Models,
    method_records,
    register_method,
    unregister_method,
)
from captum_explainer.evaluation.registry import PRESETS, default_sanity_keys
from captum_explainer.evaluation.timing import BarePasses, forward_backward_passes
from captum_explainer.tasks.benchmark import run_benchmarks
from captum_explainer.tasks.demo import run_demo
from captum_explainer.tasks.evaluate import run_evaluation
from captum_explainer.tasks.sanity import run_sanity

KEY, NAME = "toy-saliency", "Toy saliency"


class ToySaliency(GradientAttribution):
    """The absolute gradient of the class score with respect to the input: the simplest
    model-dependent map (randomising the classifier changes it)."""

    def attribute(self, inputs: torch.Tensor, target: Any = None) -> torch.Tensor:
        x = inputs.detach().clone().requires_grad_(True)
        logits = self.forward_func(x)
        if isinstance(target, int):
            target = torch.full((x.shape[0],), target, dtype=torch.long)
        chosen = logits.gather(1, torch.as_tensor(target, device=x.device).view(-1, 1))
        (gradient,) = torch.autograd.grad(chosen.sum(), x)
        return gradient.abs()


def _passes(models: Models, images: torch.Tensor, target: int, kwargs: dict) -> BarePasses:
    return BarePasses(
        forward_backward_passes(models.classifier, images, 1, target),
        "baseline: 1 forward + backward",
    )


@pytest.fixture(scope="module", autouse=True)
def toy_method():
    record = register_method(
        MethodRecord(
            key=KEY,
            name=NAME,
            build=lambda models: ToySaliency(models.classifier),
            presets={preset: {} for preset in PRESETS},
            passes=_passes,
            map_kind="input",
            doc="the absolute input gradient (a plug-in of the tests)",
        )
    )
    yield record
    unregister_method(KEY)


#: Small work counts for every method that has one, so that the runs stay short.
WORK = {"n_masks": 24, "n_iter": 3, "n_steps": 4}


def test_it_is_last_in_the_records():
    assert method_records()[-1].key == KEY


def test_it_appears_in_the_demos_table(tmp_path):
    quick = {record.key: record.presets["quick"] for record in method_records()}
    report = run_demo(tmp_path / "demo", n_images=2, settings=quick, progress=False)
    with (report.parent / "results.csv").open() as table:
        assert NAME in [row["method"] for row in csv.DictReader(table)]
    assert NAME in report.read_text()  # the faithfulness table too


def test_it_appears_in_evaluates_table(tmp_path):
    rows, _ = run_evaluation(tmp_path / "eval", n_images=2, work=WORK, progress=False)
    assert NAME in [row["method"] for row in rows]


def test_it_is_sanity_checked_by_default(tmp_path):
    assert KEY in default_sanity_keys()
    parser = build_parser()
    commands = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    sanity = commands.choices["sanity"].parse_args([])
    assert KEY in sanity.methods  # the command's default list comes from the records
    rows, _ = run_sanity(tmp_path / "sanity", n_images=2, work=WORK)
    verdicts = {row["method"]: row["verdict"] for row in rows}
    assert verdicts[NAME] == "pass"  # it depends on the model


def test_it_is_benchmarked():
    rows = run_benchmarks(["tiny"], repeats=1, warmup=0, peers=False, fresh_peaks=False)
    mine = [row for row in rows if row.key == KEY]
    assert len(mine) == 1 and mine[0].seconds_per_image > 0 and mine[0].overhead_ratio > 0


def test_explain_runs_it(tmp_path, capsys):
    image, _, _ = SyntheticScenes(4, split="test", seed=5).render(0)
    path = tmp_path / "x.png"
    Image.fromarray((image * 255).astype(np.uint8)).save(path)
    out = tmp_path / "maps"
    assert main(["explain", str(path), "--method", KEY, "--target", "0", "--out", str(out)]) == 0
    assert np.load(out / f"x_{KEY}_{list(SyntheticScenes(4).classes)[0]}.npy").shape == (64, 64)
