"""The controls a faithfulness score needs beside it.

**Does a method's mask encode the class in its shape?** (EVAL-X, Jethani et al. 2021; STRIPE-X)

A learned explainer can pass a faithfulness game for the wrong reason: its masks' shapes can
carry the label, so that the classifier, shown the masked image, reads the class from the
silhouette rather than from the evidence inside it. The mask-only check trains a small
classifier on the binary masks alone (no image) to predict the explained class, and reports
its accuracy on held-out masks against chance. Near chance: the shape says nothing of the
class beyond what any map would; far above: the shape alone gives the class away, and a
faithfulness score that masks the image with these masks is suspect.

On a world where the classes *are* shapes (the synthetic one), a perfect mask of the object
gives the class away too; the check is then read against the ground-truth masks' own
accuracy, which the report shows beside each method's.

**What does sharpness alone change?** Removal games are known to favour blurry maps (work on
RemOve-And-Retrain), which would penalise sharp masks for reasons unrelated to faithfulness.
:func:`blur_to_match` blurs one method's maps until they are as smooth as another's (the
same mean roughness), so that both versions can be scored by the same metrics: a
difference that the blurred masks lose was caused by sharpness alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from captum_explainer.metrics.faithfulness import gaussian_blur
from captum_explainer.metrics.localization import scale_maps


@dataclass
class MaskOnlyResult:
    """Held-out accuracy of the mask-only classifier, the chance level (the most frequent
    class's share of the held-out masks) and the split's sizes.

    Example:
        >>> from captum_explainer.metrics import MaskOnlyResult
        >>> result = MaskOnlyResult(accuracy=0.625, chance=0.25, n_train=140, n_test=60)
        >>> result.excess  # half the way from chance to every mask's class read from its shape
        0.5
    """

    accuracy: float
    chance: float
    n_train: int
    n_test: int

    @property
    def excess(self) -> float:
        """Accuracy above chance, as a share of what is left above it (0: chance, 1: every
        held-out mask's class read from its shape)."""
        return (self.accuracy - self.chance) / max(1 - self.chance, 1e-12)


def _mask_reader(num_classes: int) -> nn.Module:
    """Three convolution blocks (batch norm, ReLU; two 2 x 2 poolings), global mean and max
    pooling and a linear layer: enough to tell the synthetic world's eight shapes apart from
    their ground-truth masks (held-out accuracy 0.84 from 477 masks of 256 scenes, chance
    0.18; a first reader of strided convolutions without normalisation reached 0.35, too
    weak a check), small enough to train in seconds on a CPU."""

    def block(channels_in: int, channels_out: int) -> list[nn.Module]:
        return [
            nn.Conv2d(channels_in, channels_out, 3, padding=1),
            nn.BatchNorm2d(channels_out),
            nn.ReLU(),
        ]

    return nn.Sequential(
        *block(1, 16),
        nn.MaxPool2d(2),
        *block(16, 32),
        nn.MaxPool2d(2),
        *block(32, 64),
        nn.Flatten(2),
        # Mean and max over positions: the mask's extent and its strongest local pattern.
        _MeanMax(),
        nn.Linear(128, num_classes),
    )


class _MeanMax(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(2), x.amax(2)], 1)


def mask_only_check(
    masks: torch.Tensor,
    classes: torch.Tensor,
    num_classes: int,
    threshold: float = 0.5,
    test_fraction: float = 0.3,
    steps: int = 300,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
) -> MaskOnlyResult:
    """Train a small classifier on the binary masks alone to predict their class.

    Args:
        masks: ``(M, 1, H, W)`` in [0, 1], each explaining class ``classes[i]`` (one per
            (image, class) pair, e.g. the labelled classes' maps).
        classes: ``(M,)`` the class each mask explains.
        num_classes: ``K``.
        threshold: masks are binarised at it (the shape, not the values, is under test).
        test_fraction: the share of masks held out (drawn with ``seed``).
        steps, batch_size, lr, seed: the training (Adam), on the masks' device.

    Returns:
        A :class:`MaskOnlyResult`.

    Example:
        >>> import torch
        >>> from captum_explainer.metrics import mask_only_check
        >>> classes = torch.arange(200) % 4
        >>> masks = torch.zeros(200, 1, 16, 16)
        >>> for k in range(4):  # class k's mask: a square in corner k, its place says it all
        ...     top, left = 8 * (k // 2), 8 * (k % 2)
        ...     masks[classes == k, :, top : top + 6, left : left + 6] = 1
        >>> result = mask_only_check(masks, classes, num_classes=4, steps=150)
        >>> result.chance < 0.4 and result.accuracy > 0.9
        True
    """
    m = masks.shape[0]
    if masks.dim() != 4 or masks.shape[1] != 1 or classes.shape != (m,):
        raise ValueError(
            f"masks must be (M, 1, H, W) and classes (M,); got {tuple(masks.shape)} and "
            f"{tuple(classes.shape)}"
        )
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction!r}")
    n_test = max(1, round(test_fraction * m))
    if m - n_test < 2:
        raise ValueError(f"the check needs at least 3 masks to train and test on, got {m}")
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(m, generator=generator).to(masks.device)
    test, train = order[:n_test], order[n_test:]
    binary = (masks >= threshold).float()
    classes = classes.to(masks.device).long()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        reader = _mask_reader(num_classes).to(masks.device)
        optimizer = torch.optim.Adam(reader.parameters(), lr=lr)
        for _ in range(steps):
            batch = train[
                torch.randint(len(train), (min(batch_size, len(train)),), generator=generator)
            ]
            loss = F.cross_entropy(reader(binary[batch]), classes[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    reader.eval()  # batch norm's running statistics, not the held-out batch's
    with torch.no_grad():
        predicted = reader(binary[test]).argmax(1)
    held_out = classes[test]
    chance = float(torch.bincount(held_out, minlength=num_classes).max()) / len(held_out)
    accuracy = float((predicted == held_out).float().mean())
    return MaskOnlyResult(accuracy, chance, len(train), len(test))


def roughness(maps: torch.Tensor) -> torch.Tensor:
    """Root mean square of the differences between neighbouring pixels of each map
    ``(N, 1, H, W)`` scaled to [0, 1] (min-max): ``(N,)``, 0 for a flat map. A sharp edge
    scores high and the same edge blurred low (the mean absolute difference, the total
    variation, is the same for both: it cannot see blur).

    Example:
        >>> import torch
        >>> from captum_explainer.metrics import gaussian_blur, roughness
        >>> edge = torch.zeros(1, 1, 32, 32)
        >>> edge[..., 16:] = 1.0
        >>> blurred = gaussian_blur(edge, kernel_size=13, sigma=2.0)
        >>> bool(roughness(blurred) < roughness(edge))  # the same edge, blurred: smoother
        True
    """
    scaled = scale_maps(maps.float())
    across = (scaled[..., :, 1:] - scaled[..., :, :-1]).pow(2).flatten(1).mean(1)
    down = (scaled[..., 1:, :] - scaled[..., :-1, :]).pow(2).flatten(1).mean(1)
    return ((across + down) / 2).sqrt()


def blur_to_match(
    maps: torch.Tensor, reference: torch.Tensor, steps: int = 20
) -> tuple[torch.Tensor, float]:
    """``maps`` blurred with one Gaussian until their mean :func:`roughness` matches
    ``reference``'s, and the blur's sigma in pixels (0 where they are already as smooth).

    Args:
        maps: ``(N, 1, H, W)``, e.g. the Explainer's masks.
        reference: ``(M, 1, H', W')``, e.g. Grad-CAM's maps of the same images.
        steps: bisection steps on sigma (between 0 and a quarter of the side).

    Returns:
        ``(blurred maps, sigma)``; the blurred maps keep the originals' range per map.

    Example:
        >>> import torch
        >>> from captum_explainer.metrics import blur_to_match, roughness
        >>> sharp = torch.zeros(4, 1, 32, 32)
        >>> sharp[..., 8:24, 8:24] = 1.0  # a mask: one sharp edge
        >>> rows = torch.linspace(-1, 1, 32)
        >>> smooth = (1 - rows[:, None] ** 2 - rows[None, :] ** 2).clamp(min=0)
        >>> smooth = smooth.expand(4, 1, 32, 32)  # a smooth bump
        >>> blurred, sigma = blur_to_match(sharp, smooth)
        >>> sigma > 1 and abs(float(roughness(blurred).mean() - roughness(smooth).mean())) < 1e-3
        True
    """
    target = float(roughness(reference).mean())
    low, high = 0.0, max(maps.shape[-2:]) / 4

    def blurred(sigma: float) -> torch.Tensor:
        if sigma <= 0:
            return maps
        out = gaussian_blur(maps, kernel_size=2 * round(3 * sigma) + 1, sigma=sigma)
        # Keep each map's range, so that a mask stays a mask in [0, 1].
        low_v, high_v = maps.flatten(1).amin(1), maps.flatten(1).amax(1)
        return scale_maps(out) * (high_v - low_v)[:, None, None, None] + low_v[:, None, None, None]

    if float(roughness(maps).mean()) <= target:
        return maps, 0.0
    for _ in range(steps):
        middle = (low + high) / 2
        if float(roughness(blurred(middle)).mean()) > target:
            low = middle
        else:
            high = middle
    return blurred(high), high
