"""One harness for every attribution method: Captum's conventions, checked the same way.

Every method runs on the package's small CNN and on torchvision's resnet18 (reused ReLU
modules, BatchNorm), with settings small enough for CI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
import torchvision
from captum.attr import NoiseTunnel
from captum.metrics import infidelity, sensitivity_max
from torch import nn

from captum_explainer import FGVis
from captum_explainer.data import SYNTHETIC_NORMALIZATION
from captum_explainer.evaluation.registry import MethodRecord, Models, method_records
from captum_explainer.maps import expand_to_input, to_pixel_map
from captum_explainer.models import SmallCNN, SmallExplainer
from captum_explainer.report.figures import visualize_attribution


@dataclass
class Method:
    name: str
    build: Callable[[nn.Module, nn.Module], Any]  # (model, gradcam layer) -> attribution
    kwargs: dict = field(default_factory=dict)
    per_pixel: bool = True  # (N, 1, H, W) output; otherwise the input's shape
    batch_delta: float = 1e-4
    model_dependent: bool = True


def _from_record(record: MethodRecord) -> Method:
    """A registered method with its ``quick`` preset, built on the model under test."""

    def build(model: nn.Module, layer: nn.Module) -> Any:
        models = Models(
            model, _explainer(), SYNTHETIC_NORMALIZATION, "sigmoid", layer, _amortized()
        )
        return record.build(models)

    return Method(
        record.key,
        build,
        record.settings("quick"),
        per_pixel=record.map_kind == "pixel",
        batch_delta=record.batch_tolerance,
        model_dependent=record.model_dependent,
    )


#: Every registered method: a new one is checked here without touching this file.
METHODS = [_from_record(r) for r in method_records()]

MODELS = {
    "small_cnn": lambda: _seeded(lambda: SmallCNN(num_classes=8), 48),
    "resnet18": lambda: _seeded(
        lambda: torchvision.models.resnet18(weights=None, num_classes=8), 32
    ),
}


def _explainer():
    torch.manual_seed(3)
    return SmallExplainer(num_classes=8).eval()


def _amortized():
    torch.manual_seed(4)
    return SmallExplainer(num_classes=8, width=8, class_head_channels=0).eval()


def _seeded(factory, size):
    torch.manual_seed(0)
    model = factory().eval()
    layer = model.target_layer if hasattr(model, "target_layer") else model.layer4
    return model, layer, size


@pytest.fixture(params=list(MODELS), scope="module")
def model_setup(request):
    return MODELS[request.param]()


@pytest.fixture(params=METHODS, ids=[m.name for m in METHODS])
def method(request):
    return request.param


def _inputs(size, n=3):
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(1))


def _expected_shape(method, x):
    return (x.shape[0], 1, *x.shape[-2:]) if method.per_pixel else tuple(x.shape)


def _hooks(model):
    return sum(
        len(m._forward_hooks)
        + len(m._forward_pre_hooks)
        + len(m._backward_hooks)
        + len(getattr(m, "_backward_pre_hooks", {}))
        for m in model.modules()
    )


def _state(model):
    return [m.training for m in model.modules()], [p.requires_grad for p in model.parameters()]


@pytest.mark.parametrize(
    "target",
    [2, (2,), torch.tensor(2), torch.tensor([1, 2, 3]), [1, 2, 3], [(1,), (2,), (3,)]],
    ids=["int", "tuple", "tensor0d", "tensor1d", "list", "list_of_tuples"],
)
def test_every_target_form(model_setup, method, target):
    model, layer, size = model_setup
    x = _inputs(size)
    out = method.build(model, layer).attribute(x, target=target, **method.kwargs)
    assert isinstance(out, torch.Tensor) and out.shape == _expected_shape(method, x)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize(
    "targets",
    [[0, 5, 7], torch.tensor([0, 5, 7]), [(0,), (5,), (7,)]],
    ids=["list", "tensor1d", "list_of_tuples"],
)
def test_batched_equals_per_example(model_setup, method, targets):
    """Captum's generated target test: a batch with one target per example equals each
    example explained alone, with its target as given and as a one-element list."""
    model, layer, size = model_setup
    x = _inputs(size)
    attribution = method.build(model, layer)
    batched = attribution.attribute(x, target=targets, **method.kwargs)
    for i in range(3):
        for single_target in (targets[i], targets[i : i + 1]):
            single = attribution.attribute(x[i : i + 1], target=single_target, **method.kwargs)
            delta = (batched[i : i + 1] - single).abs().max()
            assert delta <= method.batch_delta, (i, single_target, float(delta))


def test_noise_tunnel_without_noise_is_the_method(model_setup, method):
    """NoiseTunnel with ``stdevs=0`` repeats each image in one batch: the maps must not change."""
    model, layer, size = model_setup
    x = _inputs(size, n=2)
    attribution = method.build(model, layer)
    plain = attribution.attribute(x, target=[1, 4], **method.kwargs)
    tunnel = NoiseTunnel(attribution).attribute(
        x, nt_type="smoothgrad", nt_samples=3, stdevs=0.0, target=[1, 4], **method.kwargs
    )
    assert (tunnel - plain).abs().max() <= method.batch_delta


class _Raising(nn.Module):
    """Captum's hook-removal test puts such a module in the model (its ``invalid_module`` mode)."""

    def forward(self, *args, **kwargs):
        raise AssertionError("Raising error on execution")


def test_hooks_are_removed_when_a_module_raises(model_setup, method):
    model, layer, size = model_setup
    copy = __import__("copy").deepcopy(model)
    name = next(n for n, m in copy.named_modules() if m is _find_like(copy, model, layer))
    parent_name, _, child = name.rpartition(".")
    parent = copy.get_submodule(parent_name) if parent_name else copy
    setattr(parent, child, _Raising())
    attribution = method.build(copy, getattr(parent, child))
    if not method.model_dependent:
        # The Explainer does not run the classifier when it explains: nothing raises.
        attribution.attribute(_inputs(size), target=1, **method.kwargs)
    else:
        with pytest.raises(AssertionError, match="Raising error on execution"):
            attribution.attribute(_inputs(size), target=1, **method.kwargs)
    assert _hooks(copy) == 0


def _find_like(copy, model, layer):
    """The module of ``copy`` at the place ``layer`` holds in ``model``."""
    name = next(n for n, m in model.named_modules() if m is layer)
    return copy.get_submodule(name)


def test_fgvis_batch_spread_is_rounding_only():
    torch.manual_seed(0)
    model = SmallCNN(num_classes=8).double().eval()
    x = _inputs(48).double()
    fgvis = FGVis(model, normalization=SYNTHETIC_NORMALIZATION)
    batched = fgvis.attribute(x, target=[0, 5, 7], n_iter=20)
    single = torch.cat(
        [fgvis.attribute(x[i : i + 1], target=t, n_iter=20) for i, t in enumerate([0, 5, 7])]
    )
    # Float32's spread (up to ~1e-3 here) shrinks with the rounding: nothing couples the batch.
    assert (batched - single).abs().max() < 1e-9


def test_tensor_in_tensor_out_tuple_in_tuple_out(model_setup, method):
    model, layer, size = model_setup
    x = _inputs(size, n=2)
    attribution = method.build(model, layer)
    out = attribution.attribute((x,), target=1, **method.kwargs)
    assert isinstance(out, tuple) and len(out) == 1
    assert out[0].shape == _expected_shape(method, x)


def test_invalid_target_raises_assertion_and_leaves_model_clean(model_setup, method):
    model, layer, size = model_setup
    # A mixed state, to see that nothing is reset to a default either.
    model.layer4.train() if hasattr(model, "layer4") else model.features.block2.train()
    frozen = next(model.parameters())
    frozen.requires_grad_(False)
    before = _state(model)
    try:
        for bad in (8, -1, [0, 1]):  # out of range, negative, wrong length for 3 images
            with pytest.raises(AssertionError, match="target"):
                method.build(model, layer).attribute(_inputs(size), target=bad, **method.kwargs)
            assert _hooks(model) == 0
            assert _state(model) == before
        method.build(model, layer).attribute(_inputs(size), target=1, **method.kwargs)
        assert _hooks(model) == 0 and _state(model) == before
    finally:
        model.eval()
        frozen.requires_grad_(True)


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.full((1, 3, 32, 32), float("nan")), "NaN or infinite"),
        (torch.full((1, 3, 32, 32), float("inf")), "NaN or infinite"),
        (torch.zeros(3, 32, 32), r"\(N, C, H, W\)"),
        (torch.zeros(0, 3, 32, 32), "holds no image"),
        (torch.zeros(1, 3, 32, 32, dtype=torch.uint8), "dtype torch.uint8"),
        (torch.zeros(1, 3, 32, 32, dtype=torch.float16), "dtype torch.float16"),
    ],
    ids=["nan", "inf", "rank3", "empty", "uint8", "half"],
)
def test_bad_inputs_are_named(model_setup, method, bad, message):
    model, layer, _ = model_setup
    attribution = method.build(model, layer)
    with pytest.raises(ValueError, match=message):
        attribution.attribute(bad, target=0, **method.kwargs)
    assert _hooks(model) == 0


class _Wrapped(nn.Module):
    """A model whose output is not a logits tensor (as many real models return)."""

    def __init__(self, model, kind):
        super().__init__()
        self.model, self.kind = model, kind

    def forward(self, x):
        logits = self.model(x)
        if self.kind == "tuple":
            return logits, x.mean()
        if self.kind == "dict":
            return {"logits": logits}
        if self.kind == "scores":  # a dict without the logits in a known place
            return {"scores": logits}
        return type("ModelOutput", (), {"logits": logits})()  # as Hugging Face returns


@pytest.mark.parametrize("kind", ["tuple", "dict", "object"])
def test_models_with_the_logits_in_a_known_place_give_the_same_maps(model_setup, method, kind):
    model, layer, size = model_setup
    wrapped = _Wrapped(model, kind).eval()
    x = _inputs(size, n=2)
    # The Explainer reads the classifier only to choose the predicted classes.
    target = None if not method.model_dependent else 1
    expected = method.build(model, layer).attribute(x, target=target, **method.kwargs)
    got = method.build(wrapped, layer).attribute(x, target=target, **method.kwargs)
    assert torch.allclose(got, expected, atol=1e-6)
    assert _hooks(model) == 0


def test_models_without_logits_in_a_known_place_get_a_clear_error(model_setup, method):
    model, layer, size = model_setup
    wrapped = _Wrapped(model, "scores").eval()
    target = None if not method.model_dependent else 1
    with pytest.raises(ValueError, match="forward_func must return .N, K. class scores"):
        method.build(wrapped, layer).attribute(_inputs(size, n=2), target=target, **method.kwargs)
    assert _hooks(model) == 0


def test_noise_tunnel(model_setup, method):
    model, layer, size = model_setup
    x = _inputs(size, n=2)
    tunnel = NoiseTunnel(method.build(model, layer))
    out = tunnel.attribute(
        x, nt_type="smoothgrad", nt_samples=2, stdevs=0.1, target=1, **method.kwargs
    )
    assert out.shape == _expected_shape(method, x)


def test_sensitivity_max_with_several_images(model_setup, method):
    model, layer, size = model_setup
    x = _inputs(size, n=3)
    attribution = method.build(model, layer)
    sens = sensitivity_max(attribution.attribute, x, target=1, n_perturb_samples=2, **method.kwargs)
    assert sens.shape == (3,) and torch.isfinite(sens).all()


def test_infidelity_through_the_shape_helper(model_setup, method):
    model, layer, size = model_setup
    x = _inputs(size, n=2)
    attr = method.build(model, layer).attribute(x, target=1, **method.kwargs)

    def perturb(inputs):
        noise = 0.05 * torch.randn_like(inputs)
        return noise, inputs - noise

    value = infidelity(model, perturb, x, expand_to_input(attr, x), target=1, n_perturb_samples=2)
    assert value.shape == (2,) and torch.isfinite(value).all()


def test_visualisation_including_all_zero_maps(model_setup, method):
    model, layer, size = model_setup
    x = _inputs(size, n=1)
    attr = to_pixel_map(method.build(model, layer).attribute(x, target=1, **method.kwargs))
    for shown in (attr[0], torch.zeros_like(attr[0])):
        figure, axis = visualize_attribution(shown, x[0], normalization=SYNTHETIC_NORMALIZATION)
        assert figure is not None and axis is not None


class _NaNLogits(nn.Module):
    """A model whose logits are NaN (a diverged or corrupted classifier)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x) * float("nan")


def test_non_finite_scores_from_the_model_are_named(model_setup, method):
    """Fault injection: no method may turn a NaN classifier into NaN maps without a word."""
    model, layer, size = model_setup
    attribution = method.build(_NaNLogits(model).eval(), layer)
    # The Explainer reads the classifier only to choose the predicted classes.
    target = 1 if method.model_dependent else None
    with pytest.raises(ValueError, match=r"non-finite \(NaN or infinite\) scores"):
        attribution.attribute(_inputs(size, n=2), target=target, **method.kwargs)
    assert _hooks(model) == 0
