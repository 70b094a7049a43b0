"""The package's map networks at inference: channels-last storage (same maps, standard layout
out, a user's own network called exactly as before) and bfloat16 autocast."""

import copy

import pytest
import torch
from torch import nn

from captum_explainer import ExplainerAttribution
from captum_explainer.attr import AmortizedAttribution
from captum_explainer.models import load_amortized, load_explainer
from captum_explainer.models.inference import like_network, stores_channels_last
from captum_explainer.models.pretrained import SYNTHETIC_AMORTIZED_RISE, SYNTHETIC_EXPLAINER


def test_loaders_store_channels_last_and_the_maps_match_the_standard_layout():
    explainer, _ = load_explainer(SYNTHETIC_EXPLAINER)
    assert stores_channels_last(explainer)
    standard = copy.deepcopy(explainer).to(memory_format=torch.contiguous_format)
    assert not stores_channels_last(standard)
    images = torch.rand(3, 3, 64, 64)
    fast = ExplainerAttribution(explainer).attribute_all_classes(images)
    slow = ExplainerAttribution(standard).attribute_all_classes(images)
    assert fast.is_contiguous()  # the standard layout comes back, whatever the network's
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=0)
    assert images.is_contiguous()  # the caller's tensor is not touched

    network, checkpoint = load_amortized(SYNTHETIC_AMORTIZED_RISE)
    assert stores_channels_last(network)
    maps = AmortizedAttribution(network, teacher=checkpoint["teacher"]).attribute(images, target=1)
    assert maps.shape == (3, 1, 64, 64) and maps.is_contiguous()


class _Flattening(nn.Module):
    """A user's map network that flattens its input with ``view`` (which a channels-last
    tensor would refuse)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3 * 8 * 8, 2 * 8 * 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.view(x.shape[0], -1)).view(x.shape[0], 2, 8, 8)


def test_a_network_in_the_standard_layout_gets_its_input_unchanged():
    network = _Flattening().eval()
    inputs = (torch.rand(2, 3, 8, 8),)
    assert like_network(network, inputs) is inputs
    masks = ExplainerAttribution(network).attribute(inputs[0], target=1)
    assert masks.shape == (2, 1, 8, 8)

    conv = nn.Conv2d(3, 2, 3, padding=1).to(memory_format=torch.channels_last)
    converted = like_network(conv, inputs)
    assert converted[0].is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(converted[0], inputs[0])


def test_bfloat16_masks_are_close_to_float32_and_come_back_as_float32():
    explainer, _ = load_explainer(SYNTHETIC_EXPLAINER)
    images = torch.rand(2, 3, 64, 64)
    full = ExplainerAttribution(explainer).attribute_all_classes(images)
    half = ExplainerAttribution(explainer, precision="bf16").attribute_all_classes(images)
    assert half.dtype == torch.float32 and half.is_contiguous()
    assert not torch.equal(half, full)  # it did run in bfloat16
    assert (half - full).abs().mean() < 5e-3 and (half - full).abs().max() < 0.1


def test_an_unknown_precision_is_named():
    explainer, _ = load_explainer(SYNTHETIC_EXPLAINER)
    with pytest.raises(
        ValueError, match=r"precision must be one of \['fp32', 'bf16'\], got 'fp16'"
    ):
        ExplainerAttribution(explainer, precision="fp16")
