"""FGVis's two games on the shipped synthetic classifier: do the explanations do their job?

python examples/fgvis_games.py --images 12

For fresh test images (never used to choose FGVis's settings) and each image's first labelled
class, prints per game the share of the image's score the explanation keeps, the mask's size,
how many images reach the game's goal and the "auto" search's own goal, and where the map sits:
its mean on the explained class's object against its mean on the background (the map is the
preservation mask ``m``, or ``1 - m`` for deletion, averaged over the colour channels).
"""

import argparse

import torch

from captum_explainer import FGVis
from captum_explainer.data import SYNTHETIC_NORMALIZATION, SyntheticScenes, collate_items
from captum_explainer.models import synthetic_classifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--seed", type=int, default=77, help="seed of the test images")
    parser.add_argument("--fast", action="store_true", help="few iterations (tests)")
    args = parser.parse_args()

    model = synthetic_classifier()
    data = SyntheticScenes(args.images, split="test", seed=args.seed)
    images, labels, segmentation = collate_items([data[i] for i in range(len(data))])
    target = labels.float().argmax(1)
    # Segmentation labels are class index + 1 (0 is the background).
    on_object = (segmentation == target[:, None, None] + 1).float()
    on_background = (segmentation == 0).float()
    fgvis = FGVis(model, normalization=SYNTHETIC_NORMALIZATION, score="sigmoid")
    n_iter = 20 if args.fast else 300
    with torch.no_grad():
        clean = torch.sigmoid(model(images)).gather(1, target[:, None])[:, 0]

    print(
        "| game | lambda | median score kept | median mask size | images at the goal | "
        "auto goal met | map on object | map on background | images with object >= 2x "
        "background |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    runs = [("preservation", 0.0), ("preservation", "auto"), ("deletion", "auto")]
    for game, lam in runs:
        mask = fgvis.attribute(images, target=target, game=game, l1_weight=lam, n_iter=n_iter)
        with torch.no_grad():
            explained = model(fgvis.explanation(images, mask, game=game))
        kept = torch.sigmoid(explained).gather(1, target[:, None])[:, 0] / clean
        size = mask.flatten(1).mean(1)  # kept share (preservation) or deleted share (deletion)
        if game == "preservation":
            at_goal = (kept >= 0.8) & (size < 0.5)  # keeps 80 % with under half the image
        else:
            at_goal = (kept < 0.2) & (size < 0.5)  # destroys 80 % deleting under half
        met = fgvis.last_goal_met
        pixel_map = mask.mean(1)
        on_obj = _region_mean(pixel_map, on_object)
        on_bg = _region_mean(pixel_map, on_background)
        localised = int((on_obj >= 2 * on_bg).sum())
        print(
            f"| {game} | {lam} | {kept.median():.3f} | {size.median():.3f} | "
            f"{int(at_goal.sum())}/{len(kept)} | "
            f"{'-' if met is None else f'{int(met.sum())}/{len(met)}'} | "
            f"{on_obj.mean():.4f} | {on_bg.mean():.4f} | {localised}/{len(kept)} |"
        )


def _region_mean(pixel_map: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """Per image, the map's mean over a 0/1 region ``(N, H, W)``."""
    return (pixel_map * region).flatten(1).sum(1) / region.flatten(1).sum(1).clamp(min=1)


if __name__ == "__main__":
    main()
