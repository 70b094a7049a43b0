"""The package's map networks at inference: channels-last storage (same maps, standard layout
out, a user's own network called exactly as before) and bfloat16 autocast."""

import copy

import pytest
import torch
import torchvision
from torch import nn

from captum_explainer import ExplainerAttribution
from captum_explainer.attr import AmortizedAttribution
from captum_explainer.models import load_amortized, load_explainer
from captum_explainer.models.explainer_nets import build_explainer
from captum_explainer.models.inference import (
    fold_batch_norms,
    like_network,
    stores_channels_last,
    to_channels_last,
)
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


def _with_trained_looking_norms(network: nn.Module) -> nn.Module:
    """Give every batch norm statistics and an affine map far from the identity, as after
    training (fresh ones would make folding trivially right)."""
    generator = torch.Generator().manual_seed(0)
    for module in network.modules():
        if isinstance(module, nn.BatchNorm2d) and module.track_running_stats:
            c = module.num_features
            module.running_mean.copy_(torch.randn(c, generator=generator))
            module.running_var.copy_(torch.rand(c, generator=generator) * 2 + 0.2)
            with torch.no_grad():
                module.weight.copy_(torch.rand(c, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(c, generator=generator))
    return network


@pytest.mark.parametrize(
    "build",
    [
        lambda: to_channels_last(build_explainer("resnet18_fpn", 4)),
        lambda: build_explainer("small_explainer", 4),
        lambda: torchvision.models.resnet18(weights=None, num_classes=5),
    ],
    ids=["resnet18_fpn channels-last", "small_explainer", "torchvision resnet18"],
)
def test_folded_batch_norms_give_the_same_outputs_and_leave_the_network_alone(build):
    network = _with_trained_looking_norms(build()).train()
    norms = sum(isinstance(m, nn.BatchNorm2d) for m in network.modules())
    folded = fold_batch_norms(network)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert not folded.training and not any(p.requires_grad for p in folded.parameters())
    # The user's network: still training, every norm and gradient flag where it was.
    assert network.training and all(p.requires_grad for p in network.parameters())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in network.modules()) == norms
    assert stores_channels_last(folded) == stores_channels_last(network)
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        expected = network.eval()(images)
    torch.testing.assert_close(folded(images), expected, atol=1e-4, rtol=1e-4)


class _NotAPair(nn.Module):
    """A norm named like a convolution's partner that does not follow it, and a norm without
    running statistics: neither may be folded."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(4)
        self.sequence = nn.Sequential(
            nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4, track_running_stats=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sequence(self.bn2(self.conv1(x)))


def test_only_norms_that_follow_a_convolution_with_running_statistics_are_folded():
    folded = fold_batch_norms(_with_trained_looking_norms(_NotAPair()))
    assert isinstance(folded.bn2, nn.BatchNorm2d)
    assert isinstance(folded.sequence[1], nn.BatchNorm2d)


def test_a_compiled_folded_explainer_gives_the_same_masks():
    explainer = _with_trained_looking_norms(build_explainer("small_explainer", 3)).eval()
    images = torch.rand(2, 3, 32, 32)
    expected = ExplainerAttribution(explainer).attribute_all_classes(images)
    compiled = torch.compile(fold_batch_norms(explainer))
    torch.testing.assert_close(
        ExplainerAttribution(compiled).attribute_all_classes(images), expected, atol=1e-5, rtol=0
    )
