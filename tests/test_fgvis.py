"""FGVis: the gradient filter of Wagner et al. pinned down, then the optimisation."""

import pytest
import torch
import torchvision
from torch import nn

from captum_explainer import FGVis
from captum_explainer.attr._gradient_filter import GradientFilter
from captum_explainer.data import SYNTHETIC_NORMALIZATION, SyntheticScenes, collate_items
from captum_explainer.evaluation import method_record
from captum_explainer.models import SmallCNN, synthetic_classifier


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


def test_an_activation_that_can_be_negative_is_bounded_on_both_sides():
    # LeakyReLU outputs can be negative: lower = min(0, h(x)) binds too (the filter's
    # two-sided path; ReLU's takes only the upper bound).
    torch.manual_seed(1)
    conv, act, linear = nn.Conv2d(3, 4, 3, padding=1), nn.LeakyReLU(0.3), nn.Linear(4 * 8 * 8, 2)
    model = nn.Sequential(conv, act, nn.Flatten(), linear).eval()
    x = torch.randn(1, 3, 8, 8)
    e = (x + torch.randn_like(x)).requires_grad_(True)
    clean = act(conv(x)).detach()
    lower, upper = clean.clamp(max=0), clean.clamp(min=0)
    with GradientFilter(model) as grad_filter:
        grad_filter.record(lambda: model(x))
        got = torch.autograd.grad(grad_filter.run(lambda: model(e))[0, 0], e)[0]
    h = act(conv(e))
    inside = ((h >= lower) & (h <= upper)).float().detach()
    expected = torch.autograd.grad((linear(torch.flatten(h * inside, 1)))[0, 0], e)[0]
    assert torch.allclose(got, expected, atol=1e-6)
    assert (h.detach() < lower).any()  # the lower bound is what cuts some gradient here


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
    fgvis = FGVis(model, normalization=SYNTHETIC_NORMALIZATION)
    fgvis.attribute(torch.randn(5, 3, 32, 32), target=1, n_iter=6, tol=0, l1_weight=0.1)
    assert sizes == [5] * 7  # one clean pass, then one pass per iteration
    sizes.clear()
    fgvis.attribute(torch.randn(5, 3, 32, 32), target=1, n_iter=6, tol=0)
    assert sizes == [5] * 8  # "auto" checks the last iterate's goal in one more pass
    handle.remove()


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
    # Black reference: a fully removed pixel is black before normalisation (a preservation
    # mask of 0, or a deletion map of 1: the default game's).
    for e in (
        fgvis.explanation(x, torch.zeros_like(x), game="preservation"),
        fgvis.explanation(x, torch.ones_like(x)),
    ):
        assert torch.allclose(
            SYNTHETIC_NORMALIZATION.denormalize(e), torch.zeros_like(x), atol=1e-6
        )


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


# --- The games on the shipped classifier (fresh test images, never used to choose settings) ---


@pytest.fixture(scope="module")
def shipped_setup():
    model = synthetic_classifier()
    data = SyntheticScenes(4, split="test", seed=2024)
    images, labels, _ = collate_items([data[i] for i in range(len(data))])
    target = labels.float().argmax(1)  # a present class of each image
    fgvis = FGVis(model, normalization=SYNTHETIC_NORMALIZATION, score="sigmoid")
    with torch.no_grad():
        clean = torch.sigmoid(model(images)).gather(1, target[:, None])[:, 0]
    return model, fgvis, images, target, clean


def _score_ratio(model, fgvis, images, target, clean, mask, game):
    with torch.no_grad():
        explained = model(fgvis.explanation(images, mask, game=game))
    return torch.sigmoid(explained).gather(1, target[:, None])[:, 0] / clean


def test_preservation_with_lambda_zero_keeps_the_score(shipped_setup):
    model, fgvis, images, target, clean = shipped_setup
    mask = fgvis.attribute(images, target=target, game="preservation", l1_weight=0.0, n_iter=100)
    ratio = _score_ratio(model, fgvis, images, target, clean, mask, "preservation")
    assert (ratio >= 0.95).all(), ratio


def test_preservation_keeps_the_score_with_a_small_mask(shipped_setup):
    model, fgvis, images, target, clean = shipped_setup
    mask = fgvis.attribute(images, target=target, game="preservation")
    ratio = _score_ratio(model, fgvis, images, target, clean, mask, "preservation")
    kept = mask.flatten(1).mean(1)
    good = (ratio >= 0.8) & (kept < 0.5)
    assert int(good.sum()) >= 3, (ratio, kept)
    # The search reports honestly which images met its goal (keep=0.9).
    assert torch.equal(fgvis.last_goal_met, ratio >= 0.9 - 1e-6)


def test_deletion_destroys_the_score_with_a_small_deletion(shipped_setup):
    model, fgvis, images, target, clean = shipped_setup
    mask = fgvis.attribute(images, target=target, game="deletion")
    ratio = _score_ratio(model, fgvis, images, target, clean, mask, "deletion")
    deleted = mask.flatten(1).mean(1)  # the deletion map is 1 - m
    good = (ratio < 0.2) & (deleted < 0.5)
    assert int(good.sum()) >= 3, (ratio, deleted)
    assert torch.equal(fgvis.last_goal_met, ratio <= 0.1 + 1e-6)


def test_the_comparisons_fgvis_map_sits_on_the_explained_object():
    """The comparison's FGVis (the catalogue record: the deletion game) localises on the
    shipped classifier: its map's mean on the explained object is at least twice its mean on
    the background (the preservation game's is not: a dimmer copy keeps this classifier's
    score; docs/methods/fgvis.md)."""
    record = method_record("fgvis")
    data = SyntheticScenes(4, split="test", seed=31)
    images, labels, segmentation = collate_items([data[i] for i in range(len(data))])
    target = labels.float().argmax(1)
    fgvis = FGVis(synthetic_classifier(), normalization=SYNTHETIC_NORMALIZATION, score="sigmoid")
    pixel_map = fgvis.attribute(images, target=target, **record.presets["demo"]).mean(1)
    on_object = segmentation == target[:, None, None] + 1
    on_background = segmentation == 0
    object_mean = (pixel_map * on_object).flatten(1).sum(1) / on_object.flatten(1).sum(1)
    background_mean = (pixel_map * on_background).flatten(1).sum(1) / on_background.flatten(1).sum(
        1
    )
    assert int((object_mean >= 2 * background_mean).sum()) >= 3, (object_mean, background_mean)
    assert float(object_mean.mean()) >= 2 * float(background_mean.mean())


def test_fgvis_called_with_its_defaults_localises():
    """``FGVis(model).attribute(x, target=t)`` as the README calls it plays the game that
    localises (deletion): its map's mean on the explained object is at least twice its mean
    on the background. Before 0.4 the default was the preservation game, whose maps on the
    shipped classifier are a uniformly dimmed copy of the image."""
    data = SyntheticScenes(4, split="test", seed=32)
    images, labels, segmentation = collate_items([data[i] for i in range(len(data))])
    target = labels.float().argmax(1)
    fgvis = FGVis(synthetic_classifier(), normalization=SYNTHETIC_NORMALIZATION, score="sigmoid")
    pixel_map = fgvis.attribute(images, target=target, n_iter=100).mean(1)
    on_object = segmentation == target[:, None, None] + 1
    on_background = segmentation == 0
    object_mean = (pixel_map * on_object).flatten(1).sum(1) / on_object.flatten(1).sum(1)
    background_mean = (pixel_map * on_background).flatten(1).sum(1) / on_background.flatten(1).sum(
        1
    )
    assert float(object_mean.mean()) >= 2 * float(background_mean.mean())
    # explanation() reads a default mask with the default game.
    explained = fgvis.explanation(images, fgvis.attribute(images, target=target, n_iter=3))
    assert explained.shape == images.shape


class _DarknessTrap(nn.Module):
    """Class 0 has real evidence (a bright 4 x 4 patch) and a trap: a unit that fires only
    when the whole image is darker than it ever was, with a large weight. An optimiser that
    may create new evidence empties the mask and keeps the score through the trap."""

    def __init__(self):
        super().__init__()
        self.patch_unit, self.dark_unit = nn.ReLU(), nn.ReLU()

    def forward(self, x):
        patch = self.patch_unit(x[:, 0, :4, :4].mean((1, 2)) - 1.5)  # 0.5 on the image
        dark = self.dark_unit(0.6 - x[:, 0].mean((1, 2)))  # 0 on the image
        logit = 4 * patch + 40 * dark - 1
        return torch.stack([logit, torch.zeros_like(logit)], 1)


def test_the_gradient_filter_prevents_an_adversarial_mask():
    model = _DarknessTrap()
    x = torch.ones(1, 1, 8, 8)
    x[:, :, :4, :4] = 2.0
    fgvis = FGVis(model, score="logit")  # no saturation: the trap acts through gradients only
    kwargs = dict(target=0, game="preservation", l1_weight=0.05, n_iter=300, baselines=0.0)
    raw = fgvis.attribute(x, filter_gradients=False, **kwargs)
    filtered = fgvis.attribute(x, **kwargs)
    # Unprotected: an almost empty mask that scores higher than the image (new evidence).
    assert raw.mean() < 0.05 and model(raw * x)[0, 0] > model(x)[0, 0]  # reference 0
    # Protected: the patch is kept, the rest removed.
    assert filtered[..., :4, :4].mean() > 0.9 and filtered.mean() < 0.3


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_torchscript_models_are_refused_with_the_reason():
    scripted = torch.jit.script(_tiny())  # it holds nn.ReLU, which hooks cannot reach
    with pytest.raises(ValueError, match="TorchScript"):
        FGVis(scripted)
