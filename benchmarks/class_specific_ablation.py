"""Which change bought what: the class-specific Explainer's ablation on the synthetic world.

Trains one Explainer per variant, each adding one change to the one before (same seed,
same number of steps, encoder from the shipped classifier), then evaluates every variant on
fresh synthetic images of another seed with the per-class and class-agnostic mask scores
and class specificity under softmax scoring. Writes a markdown table::

    python benchmarks/class_specific_ablation.py --out runs/ablation --steps 600 --eval-seed 7

Variants already trained in ``--out`` are evaluated again, not retrained.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from captum_explainer.explainer.loss import loss_weights
from captum_explainer.explainer.train import ExplainerTrainingConfig, run_explainer_training
from captum_explainer.report import markdown_table
from captum_explainer.tasks.evaluate import run_evaluation

#: (name, loss weights, class head channels), cumulative: each adds one change.
VARIANTS = (
    ("0.2 recipe (l_m 0.5, l_n 0.3, shared head)", dict(l_m=0.5, l_n=0.3), 0),
    ("paper's weights (l_m 0.1, l_n 0.3)", dict(l_m=0.1, l_n=0.3), 0),
    ("+ absent-class term (l_absent 1)", dict(l_m=0.1, l_n=0.3, l_absent=1.0), 0),
    ("+ separation term (l_sep 1)", dict(l_m=0.1, l_n=0.3, l_absent=1.0, l_sep=1.0), 0),
    ("+ per-class head (4 channels)", dict(l_m=0.1, l_n=0.3, l_absent=1.0, l_sep=1.0), 4),
)

COLUMNS = (
    "class_iou",
    "own_object_share",
    "absent_class_mass",
    "continuous_iou",
    "mean_f1",
    "specificity_diagonal",
    "specificity_off_diagonal",
    "specificity_unmasked",
    "specificity_blank",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/ablation"))
    parser.add_argument("--steps", type=int, default=600, help="training steps per variant")
    parser.add_argument("--eval-seed", type=int, default=7)
    parser.add_argument("--n-images", type=int, default=96)
    parser.add_argument("--a-min", type=float, default=0.05)
    parser.add_argument("--only", type=int, nargs="*", help="variant numbers (1-based) to run")
    args = parser.parse_args()
    rows = []
    for number, (name, weights, head) in enumerate(VARIANTS, start=1):
        if args.only and number not in args.only:
            continue
        folder = args.out / f"variant{number}"
        if not (folder / "best.pt").exists():
            torch.manual_seed(0)
            config = ExplainerTrainingConfig(
                out_dir=folder,
                lr=1e-3,
                weights=loss_weights(a_max=0.15, a_min=args.a_min, **weights),
                epochs=args.steps // 100,
                max_steps_per_epoch=100,
                batch_size=32,
                patience=args.steps // 100,
                arch_kwargs={"class_head_channels": head},
                progress=False,
            )
            run_explainer_training(config, train_size=20000, val_size=500)
        evaluated = run_evaluation(
            folder / "eval",
            explainer=folder / "best.pt",
            methods=["explainer"],
            n_images=args.n_images,
            score="softmax",
            seed=args.eval_seed,
            progress=False,
        )
        assert evaluated is not None
        row = evaluated[0][0]
        rows.append({"variant": f"{number}. {name}", **{c: row[c] for c in COLUMNS}})
        print(markdown_table(rows[-1:]), flush=True)
    table = markdown_table(rows)
    (args.out / "ablation.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
