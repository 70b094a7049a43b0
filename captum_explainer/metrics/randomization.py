"""Sanity checks for saliency maps (Adebayo et al., NeurIPS 2018): does a map depend on the
model at all?

- :func:`model_randomization`: randomise the classifier's layers, from the output down
  (cascading) or one at a time (independent), on a copy; re-explain the same images after
  each step and measure how similar the maps stay to the original ones. A method whose maps
  survive a randomised model explains the image, not the model.
- :func:`random_logit`: the map of the image's class against the map of a random other class.
- :func:`leakage`: for masks such as the Explainer's, which do not depend on the classifier at
  run time: does the classifier's score on the masked image come from the evidence inside
  the mask or from the mask's shape?

Similarity is measured per image as the paper does: Spearman rank correlation and SSIM, both
on the maps as they are and on their absolute values, each map scaled to [0, 1] first
(min-max, :func:`~captum_explainer.metrics.scale_maps`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from captum_explainer.maps import to_pixel_map
from captum_explainer.metrics.localization import scale_maps
from captum_explainer.scores import class_scores

#: A method's maps for a model: ``explain(model, images, targets) -> (N, 1, H, W)``.
Explain = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]

#: The verdict's rule: a method passes model randomisation when, with every layer
#: randomised, the rank correlation of its absolute maps with the original ones (mean over
#: images) is below this.
PASS_THRESHOLD = 0.5

MEASURES = ("spearman", "spearman_abs", "ssim", "ssim_abs")

#: The leakage verdict's rule: masks pass when the mask's shape alone (over another image,
#: or filled with the mean colour) reaches less than this share of the evidence's gain over
#: the blank image (:attr:`LeakageResult.shape_share`).
LEAKAGE_THRESHOLD = 0.5


def spearman(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-row Spearman rank correlation of ``(N, ...)`` tensors (ties take distinct ranks in
    a stable order; a constant row correlates 0).

    Example:
        >>> import torch
        >>> from captum_explainer.metrics.randomization import spearman
        >>> a = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
        >>> spearman(a, a**3).tolist(), spearman(a, -a).tolist()  # ranks only
        ([1.0], [-1.0])
    """
    ra = a.flatten(1).argsort(dim=1, stable=True).argsort(dim=1).float()
    rb = b.flatten(1).argsort(dim=1, stable=True).argsort(dim=1).float()
    ra, rb = ra - ra.mean(1, keepdim=True), rb - rb.mean(1, keepdim=True)
    denominator = (ra.norm(dim=1) * rb.norm(dim=1)).clamp(min=1e-12)
    constant = (a.flatten(1).std(1) == 0) | (b.flatten(1).std(1) == 0)
    return torch.where(constant, torch.zeros(()), (ra * rb).sum(1) / denominator)


def ssim(a: torch.Tensor, b: torch.Tensor, window: int = 7) -> torch.Tensor:
    """Per-image structural similarity of maps ``(N, 1, H, W)`` in [0, 1] (Wang et al. 2004,
    a uniform ``window x window`` window, the usual constants for a data range of 1).

    Example:
        >>> import torch
        >>> from captum_explainer.metrics.randomization import ssim
        >>> maps = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> [round(value, 4) for value in ssim(maps, maps).tolist()]  # identical maps
        [1.0, 1.0]
    """
    c1, c2 = 0.01**2, 0.03**2
    pad = window // 2

    def mean(x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(F.pad(x, (pad,) * 4, mode="reflect"), window, stride=1)

    mu_a, mu_b = mean(a), mean(b)
    var_a = mean(a * a) - mu_a**2
    var_b = mean(b * b) - mu_b**2
    cov = mean(a * b) - mu_a * mu_b
    index = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    return index.flatten(1).mean(1)


def similarities(original: torch.Tensor, other: torch.Tensor) -> dict[str, torch.Tensor]:
    """The four per-image measures of :data:`MEASURES` between two batches of maps.

    Example:
        >>> import torch
        >>> from captum_explainer.metrics.randomization import similarities
        >>> maps = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> sorted(similarities(maps, maps))
        ['spearman', 'spearman_abs', 'ssim', 'ssim_abs']
    """
    return {
        "spearman": spearman(original, other),
        "spearman_abs": spearman(original.abs(), other.abs()),
        "ssim": ssim(scale_maps(original), scale_maps(other)),
        "ssim_abs": ssim(scale_maps(original.abs()), scale_maps(other.abs())),
    }


def parameterized_layers(model: nn.Module) -> list[str]:
    """Names of the modules that hold parameters of their own, output layer first (the
    paper's top-down order, approximated by reverse registration order).

    Example:
        >>> from torch import nn
        >>> from captum_explainer.metrics.randomization import parameterized_layers
        >>> model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
        >>> parameterized_layers(model)  # output layer first
        ['3', '0']
    """
    names = [
        name
        for name, module in model.named_modules()
        if name and any(True for _ in module.parameters(recurse=False))
    ]
    return names[::-1]


def randomize_(module: nn.Module, generator: torch.Generator) -> None:
    """Replace a module's own parameters with random values of the same scale (Gaussian with
    each tensor's standard deviation, or 1 for constant tensors such as BatchNorm's).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from captum_explainer.metrics.randomization import randomize_
        >>> layer = nn.Linear(8, 8)
        >>> before = layer.weight.clone()
        >>> randomize_(layer, torch.Generator().manual_seed(0))
        >>> bool(layer.weight.equal(before)), layer.weight.shape
        (False, torch.Size([8, 8]))
    """
    with torch.no_grad():
        for parameter in module.parameters(recurse=False):
            std = float(parameter.std()) if parameter.numel() > 1 else 0.0
            noise = torch.randn(parameter.shape, generator=generator)
            parameter.copy_((noise * (std if std > 0 else 1.0)).to(parameter))


@dataclass
class RandomizationResult:
    """Similarity to the original maps after each randomisation step.

    ``layers``: the randomised layer of each step (cascading: it and every layer above);
    ``per_step``: measure -> ``(steps, N)`` per-image similarities; ``passed`` and
    ``threshold``: the verdict (:data:`PASS_THRESHOLD`).

    Example:
        >>> import torch
        >>> from captum_explainer.metrics.randomization import MEASURES, RandomizationResult
        >>> result = RandomizationResult(
        ...     "a method", "cascading", ["fc", "conv"],
        ...     per_step={measure: torch.tensor([[1.0, 0.5], [0.5, 0.0]]) for measure in MEASURES},
        ... )
        >>> result.mean("spearman_abs"), result.passed  # 0.25 < 0.5 once every layer is random
        ([0.75, 0.25], True)
    """

    method: str
    mode: str
    layers: list[str]
    per_step: dict[str, torch.Tensor] = field(default_factory=dict)
    threshold: float = PASS_THRESHOLD

    def mean(self, measure: str) -> list[float]:
        """The measure's mean over images, per step."""
        return [float(v) for v in self.per_step[measure].mean(1)]

    @property
    def passed(self) -> bool:
        """Cascading: the absolute maps' rank correlation once every layer is randomised is
        below the threshold. Independent: below it for at least one layer."""
        final = self.mean("spearman_abs")
        return (final[-1] if self.mode == "cascading" else min(final)) < self.threshold

    def rows(self) -> list[dict[str, Any]]:
        return [
            {"method": self.method, "mode": self.mode, "layer": layer}
            | {m: float(self.per_step[m][i].mean()) for m in MEASURES}
            for i, layer in enumerate(self.layers)
        ]


def model_randomization(
    explain: Explain,
    model: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    method: str = "method",
    mode: str = "cascading",
    layers: Sequence[str] | None = None,
    seed: int = 0,
) -> RandomizationResult:
    """Adebayo et al.'s model-parameter randomisation test of one method, on a copy of
    ``model`` (:func:`model_randomization_all` for several methods sharing the copies).

    Args:
        explain: ``(model, images, targets) -> maps``; called with the original model once
            and with each randomised copy (methods that hold a layer rebuild it there).
        model: the classifier; never modified (a deep copy is randomised).
        images, targets: ``(N, C, H, W)`` and ``(N,)``.
        method: the name shown in results.
        mode: ``"cascading"`` (top layer first, each step adds the next one down) or
            ``"independent"`` (one layer at a time, the rest as trained).
        layers: which layers, in order (default :func:`parameterized_layers`).
        seed: of the random parameters.

    Returns:
        :class:`RandomizationResult`.

    Example:
        >>> import torch
        >>> from captum_explainer import GradCAM
        >>> from captum_explainer.metrics.randomization import model_randomization
        >>> from captum_explainer.models import synthetic_classifier
        >>> def explain(model, images, targets):
        ...     return GradCAM(model).attribute(images, target=targets)
        >>> model = synthetic_classifier()
        >>> images, targets = torch.rand(4, 3, 64, 64), torch.tensor([0, 1, 2, 3])
        >>> result = model_randomization(explain, model, images, targets, method="Grad-CAM")
        >>> len(result.layers), result.per_step["spearman"].shape  # (steps, images)
        (13, torch.Size([13, 4]))
    """
    return model_randomization_all({method: explain}, model, images, targets, mode, layers, seed)[0]


def model_randomization_all(
    explains: Mapping[str, Explain],
    model: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    mode: str = "cascading",
    layers: Sequence[str] | None = None,
    seed: int = 0,
) -> list[RandomizationResult]:
    """:func:`model_randomization` of several methods (name -> explain function): each
    randomised model is made once and explained by every method, in the batch given.

    Example:
        >>> import torch
        >>> from captum_explainer import GradCAM, IntegratedGradients
        >>> from captum_explainer.metrics.randomization import model_randomization_all
        >>> from captum_explainer.models import synthetic_classifier
        >>> explains = {
        ...     "Grad-CAM": lambda model, x, t: GradCAM(model).attribute(x, target=t),
        ...     "IG": lambda model, x, t: IntegratedGradients(model).attribute(x, target=t),
        ... }
        >>> images, targets = torch.rand(2, 3, 64, 64), torch.tensor([0, 1])
        >>> layers = ["head", "features.block6.0"]  # the first steps only
        >>> results = model_randomization_all(
        ...     explains, synthetic_classifier(), images, targets, layers=layers
        ... )
        >>> [(result.method, len(result.layers)) for result in results]
        [('Grad-CAM', 2), ('IG', 2)]
    """
    if mode not in ("cascading", "independent"):
        raise ValueError(f"mode must be 'cascading' or 'independent', got {mode!r}")
    layers = list(layers) if layers is not None else parameterized_layers(model)
    if not layers:
        raise ValueError("model has no layer with parameters to randomise")
    original = {
        name: to_pixel_map(explain(model, images, targets).detach(), "sum")
        for name, explain in explains.items()
    }
    generator = torch.Generator().manual_seed(seed)
    randomised = copy.deepcopy(model).eval()
    steps: dict[str, dict[str, list[torch.Tensor]]] = {
        name: {m: [] for m in MEASURES} for name in explains
    }
    for layer in layers:
        if mode == "independent":
            randomised = copy.deepcopy(model).eval()
        randomize_(randomised.get_submodule(layer), generator)
        for name, explain in explains.items():
            maps = to_pixel_map(explain(randomised, images, targets).detach(), "sum")
            for measure, values in similarities(original[name], maps).items():
                steps[name][measure].append(values)
    return [
        RandomizationResult(name, mode, layers, {m: torch.stack(v) for m, v in steps[name].items()})
        for name in explains
    ]


def random_logit(
    explain: Explain,
    model: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    num_classes: int,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """Similarity of each image's map for its class to its map for a random other class
    (per-image measures of :data:`MEASURES`); a class-sensitive method gives low values.

    Example:
        >>> import torch
        >>> from captum_explainer import GradCAM
        >>> from captum_explainer.metrics.randomization import random_logit
        >>> from captum_explainer.models import synthetic_classifier
        >>> def explain(model, images, targets):
        ...     return GradCAM(model).attribute(images, target=targets)
        >>> images, targets = torch.rand(4, 3, 64, 64), torch.tensor([0, 1, 2, 3])
        >>> random_logit(explain, synthetic_classifier(), images, targets, num_classes=8)["ssim"].shape
        torch.Size([4])
    """
    generator = torch.Generator().manual_seed(seed)
    offset = torch.randint(1, num_classes, targets.shape, generator=generator)
    others = (targets.cpu() + offset) % num_classes
    own = to_pixel_map(explain(model, images, targets).detach(), "sum")
    other = to_pixel_map(explain(model, images, others.to(targets.device)).detach(), "sum")
    return similarities(own, other)


@dataclass
class LeakageResult:
    """The classifier's mean score of the explained class on four images built from each
    mask (in the spirit of EVAL-X, Jethani et al. 2021):

    - ``evidence``: the mask over its own image (``m * x + (1 - m) * b``);
    - ``other_image``: the same mask over another image of the batch (its content, this
      mask's shape);
    - ``mean_fill``: the mask's shape filled with the image's mean colour (shape only);
    - ``blank``: the baseline alone.

    ``shape_share``: how much of the evidence's gain over the blank level the shape alone
    reaches, ``(max(other_image, mean_fill) - blank) / (evidence - blank)``; near 0 when the
    score comes from the evidence inside the mask, near 1 when the mask's shape carries it.

    Example:
        >>> from captum_explainer.metrics.randomization import LeakageResult
        >>> result = LeakageResult(evidence=0.9, other_image=0.2, mean_fill=0.3, blank=0.1)
        >>> round(result.shape_share, 3)  # (0.3 - 0.1) / (0.9 - 0.1)
        0.25
    """

    evidence: float
    other_image: float
    mean_fill: float
    blank: float

    @property
    def shape_share(self) -> float:
        gain = self.evidence - self.blank
        if gain <= 1e-6:
            return float("nan")
        return (max(self.other_image, self.mean_fill) - self.blank) / gain


def leakage(
    classifier: nn.Module,
    masks: torch.Tensor,
    images: torch.Tensor,
    targets: torch.Tensor,
    score: str = "sigmoid",
    baseline: float = 0.0,
) -> LeakageResult:
    """Does the classifier's score on a masked image come from the evidence inside the mask
    or from the mask's shape? (:class:`LeakageResult`).

    Args:
        classifier: the model.
        masks: ``(N, 1, H, W)`` in [0, 1], each for its image's target class (e.g. the
            Explainer's).
        images, targets: ``(N, C, H, W)`` and ``(N,)``; ``N >= 2`` distinct images (each mask
            is also laid over the next image of the batch).
        score: ``"sigmoid"`` or ``"softmax"``.
        baseline: what masked-out pixels become.

    Example:
        >>> from captum_explainer import SyntheticScenes
        >>> from captum_explainer.data import collate_items
        >>> from captum_explainer.metrics.randomization import leakage
        >>> from captum_explainer.models import synthetic_classifier
        >>> scenes = SyntheticScenes(8, seed=1, split="val")
        >>> images, labels, segmentation = collate_items(list(scenes))
        >>> targets = labels.argmax(1)
        >>> masks = (segmentation == (targets + 1)[:, None, None]).float()[:, None]  # true objects
        >>> result = leakage(synthetic_classifier(), masks, images, targets)
        >>> bool(result.shape_share > 0.5)  # here a class is a shape: the silhouette tells it
        True
    """
    if images.shape[0] < 2:
        raise ValueError("leakage needs at least 2 images (each mask is laid over another one)")
    base = torch.full_like(images, baseline)
    other = images.roll(1, dims=0)
    mean = images.mean(dim=(2, 3), keepdim=True).expand_as(images)
    built = {
        "evidence": masks * images + (1 - masks) * base,
        "other_image": masks * other + (1 - masks) * base,
        "mean_fill": masks * mean + (1 - masks) * base,
        "blank": base,
    }
    with torch.no_grad():
        values = {
            name: float(class_scores(classifier(batch), score).gather(1, targets[:, None]).mean())
            for name, batch in built.items()
        }
    return LeakageResult(**values)
