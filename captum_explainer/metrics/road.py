"""ROAD: remove and debias (Rong, Leemann, Borisov, Kasneci, Kasneci, ICML 2022).

Deletion-style games that replace removed pixels with a blank or a blur leak: the shape of
the removed region alone can tell the class, and the model sees an image unlike any it was
trained on. ROAD fills each removed pixel by *noisy linear imputation*: the weighted mean of
its eight neighbours (direct ones 1/6, diagonal ones 1/12, those inside the image only), all
removed pixels of an image solved together, plus a little Gaussian noise. The curves are the
class's score after removing a fraction of the pixels, the most relevant first (MoRF, lower
is better) or the least relevant first (LeRF, higher is better).

Here the linear systems of every image, channel and removal fraction are solved at once, by
conjugate gradients on the method's device (the matrix-vector product is a 3 x 3 convolution),
instead of one sparse factorisation per image on the CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from captum_explainer.scores import ScoreType, class_scores

#: The fractions of pixels removed (the paper's and pytorch-grad-cam's 10 % ... 90 %).
ROAD_FRACTIONS = tuple(round(0.1 * i, 1) for i in range(1, 10))

#: The imputation's neighbour weights: direct neighbours 1/6, diagonal ones 1/12.
_WEIGHTS = torch.tensor([[1 / 12, 1 / 6, 1 / 12], [1 / 6, 0.0, 1 / 6], [1 / 12, 1 / 6, 1 / 12]])


def _neighbour_sum(values: torch.Tensor) -> torch.Tensor:
    """``sum_j w_ij v_j`` over each pixel's in-image neighbours, for ``(M, 1, H, W)``."""
    kernel = _WEIGHTS.to(device=values.device, dtype=values.dtype)[None, None]
    return F.conv2d(values, kernel, padding=1)


def noisy_linear_imputation(
    images: torch.Tensor,
    removed: torch.Tensor,
    noise: float = 0.01,
    generator: torch.Generator | None = None,
    tolerance: float = 1e-5,
    max_iterations: int | None = None,
) -> torch.Tensor:
    """ROAD's imputation of the ``removed`` pixels of ``images``.

    Each removed pixel ``i`` satisfies ``d_i u_i = sum_j w_ij u_j``, the sum over its
    in-image neighbours ``j`` (known pixels at their values, removed ones unknown) and
    ``d_i = sum_j w_ij``: a symmetric positive definite system per image and channel (a
    weighted graph Laplacian with the known pixels as boundary), solved for all of them at
    once by Jacobi-preconditioned conjugate gradients until every residual is below
    ``tolerance`` times its right-hand side. Gaussian noise of std ``noise`` is then added
    to the imputed pixels (the paper's "noisy" imputation; 0 for none).

    Args:
        images: ``(N, C, H, W)``.
        removed: ``(N, 1, H, W)`` or ``(N, C, H, W)``, true (or 1) where a pixel is removed.
        noise: the noise's standard deviation, in the images' units.
        generator: for the noise.
        tolerance: the relative residual at which the solver stops.
        max_iterations: default ``4 * (H + W)``; the solver stops there if not converged.

    Returns:
        ``(N, C, H, W)``: known pixels unchanged, removed ones imputed.

    Example:
        >>> import torch
        >>> from captum_explainer.metrics import noisy_linear_imputation
        >>> rows, cols = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
        >>> ramp = (2 * rows + cols)[None, None]  # a linear image
        >>> hole = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
        >>> hole[..., 2:6, 3:7] = True
        >>> filled = noisy_linear_imputation(ramp, hole, noise=0.0)
        >>> bool((filled - ramp).abs().max() < 1e-3)  # a linear image is its own imputation
        True
    """
    if images.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W), got {tuple(images.shape)}")
    n, c, h, w = images.shape
    if removed.dim() != 4 or removed.shape[0] != n or removed.shape[-2:] != (h, w):
        raise ValueError(
            f"removed must be (N, 1, H, W) or (N, C, H, W) for images {tuple(images.shape)}, "
            f"got {tuple(removed.shape)}"
        )
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    dtype = images.dtype
    mask = removed.to(dtype).expand(n, c, h, w).reshape(n * c, 1, h, w)
    x = images.reshape(n * c, 1, h, w)
    degree = _neighbour_sum(torch.ones(1, 1, h, w, device=x.device, dtype=dtype))

    def apply(z: torch.Tensor) -> torch.Tensor:
        return mask * (degree * z - _neighbour_sum(mask * z))

    def dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a * b).flatten(1).sum(1)[:, None, None, None]

    def ratio(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.where(b != 0, a / torch.where(b != 0, b, 1), torch.zeros_like(a))

    rhs = mask * _neighbour_sum(x * (1 - mask))
    solution = mask * rhs / degree  # one Jacobi step as the start
    residual = rhs - apply(solution)
    preconditioned = residual / degree
    direction = preconditioned
    rz = dot(residual, preconditioned)
    limit = tolerance * rhs.flatten(1).norm(dim=1).clamp(min=1e-12)
    for _ in range(max_iterations if max_iterations is not None else 4 * (h + w)):
        if bool((residual.flatten(1).norm(dim=1) <= limit).all()):
            break
        product = apply(direction)
        alpha = ratio(rz, dot(direction, product))
        solution = solution + alpha * direction
        residual = residual - alpha * product
        preconditioned = residual / degree
        rz_next = dot(residual, preconditioned)
        direction = preconditioned + ratio(rz_next, rz) * direction
        rz = rz_next
    if noise > 0:
        solution = solution + noise * torch.randn(
            solution.shape, generator=generator, device=x.device, dtype=dtype
        )
    return torch.where(mask.bool(), solution, x).reshape(n, c, h, w)


@dataclass
class RoadCurves:
    """The class's score after each removal: ``morf`` and ``lerf`` ``(N, F)`` at
    ``fractions`` ``(F,)``, and ``image_score`` ``(N,)`` before any removal.

    ``morf_mean`` (lower is better) and ``lerf_mean`` (higher is better) average the curve
    over the fractions; ``combined`` is ``(lerf_mean - morf_mean) / 2`` (higher is better),
    pytorch-grad-cam's ``ROADCombined``.

    Example:
        >>> import torch
        >>> from captum_explainer.metrics import RoadCurves
        >>> curves = RoadCurves(
        ...     fractions=torch.tensor([0.25, 0.5, 0.75]),
        ...     morf=torch.tensor([[0.5, 0.25, 0.0]]),  # the class drops as its evidence goes
        ...     lerf=torch.tensor([[1.0, 1.0, 0.75]]),  # and holds while the rest goes
        ...     image_score=torch.tensor([1.0]),
        ... )
        >>> curves.morf_mean.tolist(), curves.lerf_mean.tolist(), curves.combined.tolist()
        ([0.25], [0.9166666865348816], [0.3333333432674408])
    """

    fractions: torch.Tensor
    morf: torch.Tensor
    lerf: torch.Tensor
    image_score: torch.Tensor

    @property
    def morf_mean(self) -> torch.Tensor:
        return self.morf.mean(1)

    @property
    def lerf_mean(self) -> torch.Tensor:
        return self.lerf.mean(1)

    @property
    def combined(self) -> torch.Tensor:
        return (self.lerf_mean - self.morf_mean) / 2


def road(
    model: Callable,
    images: torch.Tensor,
    maps: torch.Tensor,
    targets: torch.Tensor,
    fractions: Sequence[float] = ROAD_FRACTIONS,
    score: ScoreType = "softmax",
    noise: float = 0.01,
    seed: int = 0,
    batch_size: int = 256,
) -> RoadCurves:
    """ROAD's MoRF and LeRF curves of every image's map, every fraction imputed at once.

    The pixels are ranked by the map (ties in index order, as deletion ranks them); at
    fraction ``f`` the ``round(f * H * W)`` most (MoRF) or least (LeRF) relevant are removed
    and imputed (:func:`noisy_linear_imputation`, noise drawn from ``seed``), and the class's
    score is read.

    Args:
        model: the classifier, ``(N, C, H, W) -> (N, K)`` logits.
        images: ``(N, C, H, W)``; maps: ``(N, 1, H, W)``; targets: ``(N,)`` the classes.
        fractions: the removed shares, each in (0, 1).
        score: how logits become the score read (``"softmax"``, ``"sigmoid"``, ...).
        noise, seed: the imputation's noise and its seed.
        batch_size: images per forward pass.

    Example:
        >>> import torch
        >>> from captum_explainer import SyntheticScenes
        >>> from captum_explainer.data import collate_items
        >>> from captum_explainer.metrics import random_maps, road
        >>> from captum_explainer.models import synthetic_classifier
        >>> images, labels, segmentation = collate_items(list(SyntheticScenes(8, seed=1)))
        >>> targets = labels.argmax(1)
        >>> truth = (segmentation == (targets + 1)[:, None, None]).float()[:, None]
        >>> model = synthetic_classifier()
        >>> objects = road(model, images, truth, targets, score="sigmoid")
        >>> noise = road(model, images, random_maps(truth), targets, score="sigmoid")
        >>> objects.morf.shape  # (images, fractions)
        torch.Size([8, 9])
        >>> bool(objects.combined.mean() > noise.combined.mean())
        True
    """
    n, c, h, w = images.shape
    if maps.shape != (n, 1, h, w):
        raise ValueError(f"maps must be (N, 1, H, W) = {(n, 1, h, w)}, got {tuple(maps.shape)}")
    if not fractions or not all(0 < f < 1 for f in fractions):
        raise ValueError(f"fractions must lie strictly between 0 and 1, got {list(fractions)}")
    order = maps.reshape(n, -1).argsort(dim=1, descending=True, stable=True)
    rank = torch.empty_like(order).scatter_(
        1, order, torch.arange(h * w, device=maps.device).expand(n, -1)
    )
    counts = torch.tensor([round(f * h * w) for f in fractions], device=maps.device)
    morf = rank[:, None, :] < counts[None, :, None]  # (N, F, H * W)
    lerf = rank[:, None, :] >= (h * w - counts)[None, :, None]
    removed = torch.cat([morf, lerf], 1).reshape(n * 2 * len(fractions), 1, h, w)
    repeated = images.repeat_interleave(2 * len(fractions), dim=0)
    generator = torch.Generator(device=images.device).manual_seed(seed)
    imputed = noisy_linear_imputation(repeated, removed, noise, generator)
    with torch.no_grad():
        scores = torch.cat(
            [class_scores(model(chunk), score) for chunk in imputed.split(batch_size)]
        )
        before = class_scores(model(images), score)
    picked = scores.gather(1, targets.repeat_interleave(2 * len(fractions))[:, None])[:, 0]
    picked = picked.reshape(n, 2, len(fractions))
    return RoadCurves(
        torch.tensor(list(fractions)),
        picked[:, 0],
        picked[:, 1],
        before.gather(1, targets[:, None])[:, 0],
    )
