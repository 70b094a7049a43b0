"""Run every method on the shipped synthetic classifier and save them side by side.

python examples/all_methods.py --out examples-output/all_methods.png
"""

import argparse

import torch

from captum_explainer import (
    RISE,
    ExplainerAttribution,
    FGVis,
    GradCAM,
    IntegratedGradients,
    UndesirablePixels,
)
from captum_explainer.compare import MethodSpec, compare
from captum_explainer.data import SYNTHETIC_NORMALIZATION, SyntheticScenes, collate_items
from captum_explainer.models import synthetic_classifier, synthetic_explainer
from captum_explainer.report.figures import comparison_grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="examples-output/all_methods.png")
    parser.add_argument("--fast", action="store_true", help="few masks and iterations (tests)")
    args = parser.parse_args()

    model = synthetic_classifier()
    data = SyntheticScenes(4, split="test", seed=42)
    images, labels, segmentation = collate_items([data[i] for i in range(len(data))])
    masks, iterations, steps = (100, 10, 8) if args.fast else (4000, 300, 50)

    methods = [
        MethodSpec("Explainer", ExplainerAttribution(synthetic_explainer(), model), scale="none"),
        MethodSpec("Grad-CAM", GradCAM(model, model.target_layer)),
        MethodSpec("RISE", RISE(model, score="sigmoid"), dict(n_masks=masks, seed=0)),
        MethodSpec("Integrated Gradients", IntegratedGradients(model), dict(n_steps=steps)),
        MethodSpec(
            "FGVis",
            FGVis(model, SYNTHETIC_NORMALIZATION, score="sigmoid"),
            dict(n_iter=iterations),
            scale="none",
            reduction="mean",
        ),
        MethodSpec(
            "Undesirable pixels",
            UndesirablePixels(model, score="sigmoid"),
            dict(n_masks=masks, seed=0),
        ),
    ]
    torch.manual_seed(0)
    result = compare(methods, images, labels, segmentation)
    print(result.to_markdown())
    figure = comparison_grid(result, SYNTHETIC_NORMALIZATION, class_names=list(data.classes))
    figure.savefig(args.out, dpi=100)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
