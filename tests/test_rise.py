import pytest
import torch

from captum_explainer import RISE
from captum_explainer.attr._masks import generate_masks, mask_batches
from captum_explainer.models import SmallCNN


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return SmallCNN().eval()


def _slow_rise(model, x, target, n_masks, p_keep, batch, seed, baseline=0.0):
    """RISE written as plainly as possible: one mask at a time, one image at a time."""
    masks = torch.cat(
        list(mask_batches(n_masks, batch, x.shape[-2], x.shape[-1], 7, p_keep, seed, x.device))
    )
    maps = []
    for i in range(x.shape[0]):
        saliency = torch.zeros(x.shape[-2:])
        for mask in masks:
            masked = mask * x[i] + (1 - mask) * baseline
            with torch.no_grad():
                score = torch.sigmoid(model(masked[None]))[0, target[i]]
            saliency += score * mask
        maps.append(saliency / (n_masks * p_keep))
    return torch.stack(maps)[:, None]


def test_matches_a_slow_obviously_correct_loop(model):
    x = torch.randn(2, 3, 32, 32)
    rise = RISE(model, score="sigmoid")
    fast = rise.attribute(x, target=[1, 4], n_masks=40, perturbations_per_eval=16, seed=3)
    slow = _slow_rise(model, x, [1, 4], n_masks=40, p_keep=0.5, batch=16, seed=3)
    assert torch.allclose(fast, slow, atol=1e-5)


def test_same_seed_same_map_whatever_the_batching(model):
    x = torch.randn(4, 3, 32, 32)
    rise = RISE(model, score="sigmoid")
    a = rise.attribute(x, target=1, n_masks=50, perturbations_per_eval=30, seed=5)
    c = rise.attribute(x, target=1, n_masks=50, perturbations_per_eval=30, seed=6)
    assert not torch.equal(a, c)
    # Every number of images and of masks per pass (None: chosen from N) gives the same map.
    for n in (1, 2, 4):
        for per_eval in (None, 1, 7, 16, 50, 64):
            b = rise.attribute(x[:n], target=1, n_masks=50, perturbations_per_eval=per_eval, seed=5)
            assert torch.allclose(a[:n], b, atol=1e-6, rtol=1e-5), (n, per_eval)
    torch.manual_seed(11)
    d = rise.attribute(x, target=1, n_masks=30)
    torch.manual_seed(11)
    assert torch.equal(d, rise.attribute(x, target=1, n_masks=30))


def test_all_classes_from_one_pass_equal_the_per_class_maps(model):
    x = torch.randn(2, 3, 32, 32)
    rise = RISE(model, score="softmax")
    every = rise.attribute_all_classes(x, n_masks=20, seed=1)
    assert every.shape == (2, 8, 32, 32)
    for k in (0, 6):
        assert torch.allclose(every[:, k : k + 1], rise.attribute(x, target=k, n_masks=20, seed=1))


def test_mask_i_depends_on_seed_and_index_only():
    def stream(batch):
        return torch.cat(list(mask_batches(70, batch, 9, 11, 7, 0.5, 4, torch.device("cpu"))))

    reference = stream(70)
    for batch in (1, 3, 16, 17, 33):
        assert torch.equal(stream(batch), reference)
    assert not torch.equal(
        reference, torch.cat(list(mask_batches(70, 70, 9, 11, 7, 0.5, 5, torch.device("cpu"))))
    )


def test_masks_follow_the_recipe():
    g = torch.Generator().manual_seed(0)
    masks = generate_masks(
        2000, 30, 45, grid_size=7, p_keep=0.3, generator=g, device=torch.device("cpu")
    )
    assert masks.shape == (2000, 30, 45)
    assert masks.min() >= 0 and masks.max() <= 1
    assert abs(masks.mean().item() - 0.3) < 0.02
    # Soft: bilinear upsampling leaves intermediate values.
    assert ((masks > 0.05) & (masks < 0.95)).float().mean() > 0.2


def test_masks_come_in_bounded_batches():
    sizes = [
        m.shape[0] for m in mask_batches(130, 50, 8, 8, 7, 0.5, seed=0, device=torch.device("cpu"))
    ]
    assert sizes == [50, 50, 30]


def test_baselines_are_what_masked_pixels_become(model):
    # With p_keep close to 1 nearly every mask keeps everything: the baseline barely matters.
    x = torch.randn(1, 3, 32, 32)
    rise = RISE(model, score="sigmoid")
    a = rise.attribute(x, target=0, n_masks=8, seed=0, baselines=0.0)
    b = rise.attribute(x, target=0, n_masks=8, seed=0, baselines=torch.full((1, 3, 32, 32), 3.0))
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="baselines of shape"):
        rise.attribute(x, target=0, n_masks=8, baselines=torch.zeros(2, 3, 5, 5))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_masks=0), "n_masks must be an integer >= 1, got 0"),
        (dict(p_keep=1.0), r"p_keep must lie strictly between 0 and 1, got 1.0"),
        (dict(p_keep=0), "p_keep"),
        (dict(grid_size=0), "grid_size"),
        (dict(perturbations_per_eval=0), "perturbations_per_eval"),
    ],
)
def test_bad_arguments_are_named(model, kwargs, message):
    with pytest.raises(ValueError, match=message):
        RISE(model).attribute(torch.randn(1, 3, 32, 32), target=0, **kwargs)


def test_bad_seed_is_named(model):
    with pytest.raises(ValueError, match="seed must be an integer >= 0 or None, got -1"):
        RISE(model).attribute(torch.randn(1, 3, 32, 32), target=0, n_masks=4, seed=-1)


def test_bad_score_is_named(model):
    with pytest.raises(ValueError, match="score must be one of"):
        RISE(model, score="probit")


def test_options_of_another_method_are_refused_by_name(model):
    with pytest.raises(TypeError, match=r"unexpected options \['top_k'\]"):
        RISE(model).attribute(torch.randn(1, 3, 32, 32), target=0, n_masks=4, top_k=3)
    with pytest.raises(TypeError, match="unexpected keyword argument 'n_mask'"):
        RISE(model).attribute_all_classes(torch.randn(1, 3, 32, 32), n_mask=4)
