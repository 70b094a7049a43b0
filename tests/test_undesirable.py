import pytest
import torch
from torch import nn

from captum_explainer import UndesirablePixels


class RegionModel(nn.Module):
    """Class 0's logit falls with the brightness of region A and rises with region C;
    class 1's logit rises with region B; class 2 looks at nothing."""

    def __init__(self):
        super().__init__()
        self.a = (slice(0, 8), slice(0, 8))
        self.b = (slice(8, 16), slice(8, 16))
        self.c = (slice(0, 8), slice(8, 16))

    def forward(self, x):
        def mean(region):
            return x[:, :, region[0], region[1]].mean(dim=(1, 2, 3))

        logits = torch.stack([mean(self.c) - mean(self.a), mean(self.b), 0 * mean(self.a)], dim=1)
        return logits


def test_maps_find_the_hindering_and_the_competing_regions():
    model = RegionModel()
    x = torch.ones(2, 3, 16, 16)
    maps = UndesirablePixels(model, score="logit").attribute_both(
        x, target=0, top_k=1, n_masks=600, grid_size=4, seed=0
    )
    target_map, non_target = maps["target"], maps["non_target"]
    assert target_map.shape == non_target.shape == (2, 1, 16, 16)
    a, b, c = model.a, model.b, model.c

    def mean(m, region):
        return m[:, 0, region[0], region[1]].mean()

    # Removing region A raises class 0: A is the target's undesirable region, C is not.
    assert mean(target_map, a) > 5 * mean(target_map, c)
    # Region B makes the image look like class 1, the top competitor.
    assert mean(non_target, b) > 5 * mean(non_target, a)
    assert (target_map >= 0).all() and (non_target >= 0).all()


def test_attribute_returns_the_chosen_map():
    model = RegionModel()
    x = torch.ones(1, 3, 16, 16)
    method = UndesirablePixels(model, score="logit")
    both = method.attribute_both(x, target=0, n_masks=50, seed=2)
    assert torch.equal(
        method.attribute(x, target=0, map="target", n_masks=50, seed=2), both["target"]
    )
    assert torch.equal(
        method.attribute(x, target=0, map="non_target", n_masks=50, seed=2), both["non_target"]
    )
    with pytest.raises(ValueError, match="map must be one of"):
        method.attribute(x, target=0, map="both")
    with pytest.raises(ValueError, match="top_k must be an integer >= 1"):
        method.attribute(x, target=0, top_k=0)


def test_present_classes_are_never_competitors():
    model = RegionModel()
    x = torch.ones(2, 3, 16, 16)
    method = UndesirablePixels(model, score="logit")
    kwargs = dict(target=0, top_k=1, n_masks=300, grid_size=4, seed=0)
    free = method.attribute_both(x, **kwargs)["non_target"]
    # Class 1 is in the image: its region B no longer counts as pulling elsewhere.
    present = torch.tensor([[1, 1, 0], [1, 1, 0]])
    held = method.attribute_both(x, present=present, **kwargs)["non_target"]
    b = model.b
    assert free[:, 0, b[0], b[1]].mean() > 0.1
    assert held[:, 0, b[0], b[1]].mean() < 0.01 * free[:, 0, b[0], b[1]].mean()
    # Every other class present: no competitor is left, the map is zero.
    everything = method.attribute_both(x, present=torch.ones(2, 3), **{**kwargs, "top_k": 2})
    assert torch.equal(everything["non_target"], torch.zeros_like(held))
    with pytest.raises(ValueError, match=r"present must be an \(N, K\)"):
        method.attribute(x, target=0, present=torch.ones(3))
