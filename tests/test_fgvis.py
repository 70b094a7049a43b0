"""FGVis: the gradient filter of Wagner et al. pinned down, then the optimisation."""

import pytest
import torch
import torchvision
from torch import nn

from captum_explainer import FGVis
from captum_explainer.attr._gradient_filter import GradientFilter
from captum_explainer.data import SYNTHETIC_NORMALIZATION
from captum_explainer.models import SmallCNN


def _tiny():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 2)
    ).eval()


def test_forward_output_is_unchanged_by_the_filter():
    model = SmallCNN().eval()
    x, e = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32)
    with GradientFilter(model) as grad_filter:
        grad_filter.record(lambda: model(x))
        filtered = grad_filter.run(lambda: model(e))
    assert torch.equal(filtered, model(e))


def test_at_the_original_image_the_filtered_gradient_is_the_unfiltered_one():
    model = SmallCNN().eval()
    x = torch.randn(2, 3, 32, 32)
    m = torch.ones_like(x, requires_grad=True)
    plain = torch.autograd.grad(model(m * x)[:, 1].sum(), m)[0]
    with GradientFilter(model) as grad_filter:
        grad_filter.record(lambda: model(x))
        filtered = torch.autograd.grad(grad_filter.run(lambda: model(m * x))[:, 1].sum(), m)[0]
    assert torch.equal(plain, filtered)


def test_gradient_is_zero_exactly_where_activations_leave_their_bounds():
    model = _tiny()
    conv, relu, linear = model[0], model[1], model[3]
    x = torch.randn(1, 3, 8, 8)
    e = (x + torch.randn_like(x)).requires_grad_(True)
    upper = relu(conv(x)).detach()  # lower is 0 for a ReLU
    with GradientFilter(model) as grad_filter:
        grad_filter.record(lambda: model(x))
        got = torch.autograd.grad(grad_filter.run(lambda: model(e))[0, 0], e)[0]
    # By hand: d out / d h is the linear weight, masked where h(e) > h(x).
    h = relu(conv(e))
    inside = (h <= upper).float().detach()
    expected = torch.autograd.grad((linear(torch.flatten(h * inside, 1)))[0, 0], e)[0]
    assert torch.allclose(got, expected, atol=1e-6)
    assert (inside == 0).any() and (inside == 1).any()  # the case is not trivial


def test_the_sparsity_gradient_is_not_filtered():
    model = SmallCNN().eval()
    x = torch.randn(1, 3, 32, 32)
    m = torch.full_like(x, 0.3, requires_grad=True)
    with GradientFilter(model) as grad_filter:
        grad_filter.record(lambda: model(x))
        phi = grad_filter.run(lambda: model(m * x))[0, 2]
        g_phi = torch.autograd.grad(phi, m, retain_graph=True)[0]
        g_all = torch.autograd.grad(phi + 0.7 * m.mean(), m)[0]
    assert torch.allclose(g_all - g_phi, torch.full_like(m, 0.7 / m.numel()), atol=1e-9)


def test_bounds_are_per_call_so_reused_relus_are_handled():
    model = torchvision.models.resnet18(weights=None).eval()
    relu_modules = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    with GradientFilter(model) as grad_filter:
        grad_filter.record(lambda: model(torch.randn(1, 3, 32, 32)))
    # 1 stem ReLU + 2 calls in each of 8 BasicBlocks, from 9 ReLU modules.
    assert len(relu_modules) == 9 and len(grad_filter.bounds) == 17
    assert sum(len(m._forward_hooks) for m in model.modules()) == 0


def test_an_output_layer_activation_is_not_filtered():
    model = nn.Sequential(
        nn.Conv2d(3, 2, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Sigmoid()
    )
    with GradientFilter(model) as grad_filter:
        grad_filter.record(lambda: model(torch.randn(1, 3, 8, 8)))
        assert len(grad_filter.bounds) == 1
        grad_filter.run(lambda: model(torch.randn(1, 3, 8, 8)))


def test_models_without_filterable_activations_are_refused():
    linear = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2))
    with pytest.raises(ValueError, match="found no activation module"):
        FGVis(linear).attribute(torch.randn(1, 3, 8, 8), target=0)

    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 2, 3)

        def forward(self, x):
            return torch.relu(self.conv(x)).mean(dim=(2, 3))

    with pytest.raises(ValueError, match="Functional activations"):
        FGVis(Functional()).attribute(torch.randn(1, 3, 8, 8), target=0)
    with pytest.raises(ValueError, match="nn.Module or a bound method"):
        FGVis(lambda x: x.mean(dim=(2, 3)))


def test_all_images_are_optimised_together_in_one_batch():
    model = SmallCNN().eval()
    sizes = []
    handle = model.register_forward_pre_hook(lambda module, args: sizes.append(args[0].shape[0]))
    FGVis(model, normalization=SYNTHETIC_NORMALIZATION).attribute(
        torch.randn(5, 3, 32, 32), target=1, n_iter=6, tol=0
    )
    handle.remove()
    assert sizes == [5] * 7  # one clean pass, then one pass per iteration


def test_masks_and_explanation_images():
    model = SmallCNN().eval()
    fgvis = FGVis(model, normalization=SYNTHETIC_NORMALIZATION, score="sigmoid")
    x = torch.randn(2, 3, 32, 32)
    for game in ("preservation", "deletion"):
        mask = fgvis.attribute(x, target=1, game=game, n_iter=5, l1_weight=0.5)
        assert mask.shape == x.shape and mask.min() >= 0 and mask.max() <= 1
        e = fgvis.explanation(x, mask, game=game)
        keep = mask if game == "preservation" else 1 - mask
        black = SYNTHETIC_NORMALIZATION.black(x)
        assert torch.allclose(
            e, keep * x + (1 - keep) * black, atol=1e-6
        )  # lerp rounds differently
    # Black reference: a fully removed pixel is black before normalisation.
    e = fgvis.explanation(x, torch.zeros_like(x))
    assert torch.allclose(SYNTHETIC_NORMALIZATION.denormalize(e), torch.zeros_like(x), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(game="insertion"), "game must be one of"),
        (dict(l1_weight=-1.0), "l1_weight must be a number >= 0 or 'auto'"),
        (dict(n_iter=0), "n_iter"),
        (dict(keep=1.5), "keep"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FGVis(SmallCNN().eval()).attribute(torch.randn(1, 3, 32, 32), target=0, **kwargs)
