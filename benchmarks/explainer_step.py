"""What an Explainer training step costs against the passes it cannot avoid.

A step must run the Explainer forward and backward, and the frozen classifier forward on the
masked and the inverted batch (plus the separated batch with ``l_sep``) and backward through
it to the masks. The "floor" below runs exactly those passes with a trivial loss; the "step"
is the package's (:func:`~captum_explainer.explainer.train.loss_terms`, backward, Adam).
Their ratio is the overhead of everything else (the loss terms, the area term's sort)::

    python benchmarks/explainer_step.py --batch-size 32 --repeats 20
"""

from __future__ import annotations

import argparse
import time

import torch

from captum_explainer.data import SyntheticScenes
from captum_explainer.explainer.loss import LossWeights
from captum_explainer.explainer.train import loss_terms
from captum_explainer.models.explainer_nets import SmallExplainer
from captum_explainer.models.pretrained import synthetic_classifier
from captum_explainer.report import markdown_table

RECIPES = {
    "paper's loss": LossWeights(a_max=0.15),
    "shipped (+ l_absent 1, l_sep 1)": LossWeights(a_max=0.15, l_absent=1.0, l_sep=1.0),
}


def floor(explainer, classifier, images, optimizer, passes: int) -> None:
    """The unavoidable passes: Explainer forward, classifier forward on ``passes`` masked
    batches, one backward through both, the optimiser's update."""
    logits = explainer(images)
    mask = torch.sigmoid(logits.max(1, keepdim=True).values)
    batch = [mask * images, (1 - mask) * images] + [mask * images] * (passes - 2)
    loss = classifier(torch.cat(batch)).sum()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def full_step(explainer, classifier, images, labels, optimizer, weights) -> None:
    loss = loss_terms(explainer, classifier, images, labels, weights)["loss"]
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def seconds(run, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        run()
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--class-head-channels", type=int, default=4)
    args = parser.parse_args()
    torch.manual_seed(0)
    classifier = synthetic_classifier().eval().requires_grad_(False)
    data = SyntheticScenes(args.batch_size, seed=3, split="train")
    items = [data[i] for i in range(args.batch_size)]
    images = torch.stack([item[0] for item in items])
    labels = torch.stack([item[1] for item in items])
    explainer = SmallExplainer(class_head_channels=args.class_head_channels).train()
    optimizer = torch.optim.Adam(explainer.parameters(), lr=1e-4)
    rows = []
    for name, weights in RECIPES.items():
        passes = 3 if weights.l_sep else 2
        base = seconds(
            lambda p=passes: floor(explainer, classifier, images, optimizer, p), args.repeats
        )
        step = seconds(
            lambda w=weights: full_step(explainer, classifier, images, labels, optimizer, w),
            args.repeats,
        )
        rows.append(
            {
                "recipe": name,
                "classifier batches": passes,
                "floor_ms": 1000 * base,
                "step_ms": 1000 * step,
                "step / floor": step / base,
            }
        )
    print(
        f"batch {args.batch_size}, {torch.get_num_threads()} threads, "
        f"class head {args.class_head_channels}"
    )
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
