"""Run every registered method on the shipped synthetic classifier and save them side by side.

python examples/all_methods.py --out examples-output/all_methods.png

The methods come from the records (``method_records()``): a method registered with
``register_method`` appears here too, built and set as the demo builds it.
"""

import argparse

import torch

from captum_explainer.compare import compare
from captum_explainer.data import SYNTHETIC_NORMALIZATION, SyntheticScenes, collate_items
from captum_explainer.evaluation import Models, build_methods
from captum_explainer.models import (
    synthetic_amortized_rise,
    synthetic_classifier,
    synthetic_explainer,
)
from captum_explainer.report.figures import comparison_grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="examples-output/all_methods.png")
    parser.add_argument("--fast", action="store_true", help="few masks and iterations (tests)")
    args = parser.parse_args()

    model = synthetic_classifier()
    data = SyntheticScenes(4, split="test", seed=42)
    images, labels, segmentation = collate_items([data[i] for i in range(len(data))])
    models = Models(
        model,
        explainer=synthetic_explainer(),
        normalization=SYNTHETIC_NORMALIZATION,
        score="sigmoid",
        layer=model.target_layer,
        amortized=synthetic_amortized_rise(),
    )
    # Every method each record's cost preset sets: "quick" for the tests, "demo" otherwise.
    methods = build_methods(models, preset="quick" if args.fast else "demo")
    torch.manual_seed(0)
    result = compare(methods, images, labels, segmentation)
    print(result.to_markdown())
    figure = comparison_grid(result, SYNTHETIC_NORMALIZATION, class_names=list(data.classes))
    figure.savefig(args.out, dpi=100)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
