"""RISE's random masks and the pass over them shared by RISE and undesirable-pixel maps.

Masks are made batch by batch on the inputs' device, so peak memory depends on the batch
of masks, never on their total number. Their random draws (the coarse grids and the crop
offsets, a few numbers per mask) come from CPU generators in fixed blocks of
:data:`MASKS_PER_DRAW`, block ``j`` seeded from ``(seed, j)``: mask ``i`` is a function
of ``(seed, i)`` only, whatever the number of images, ``perturbations_per_eval`` or device.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from captum._utils.common import (
    ExpansionTypes,
    _expand_additional_forward_args,
    _format_additional_forward_args,
)
from tqdm.auto import tqdm

from captum_explainer.attr._base import forward_logits
from captum_explainer.scores import ScoreType, class_scores

#: Images per forward pass when ``perturbations_per_eval`` is ``None``. On 2 CPU cores the
#: small CNN ran fastest per image with 64 to 128 images per pass; 256 was 1.3 times and
#: 4,000 1.5 times slower (larger activations fall out of cache and cost page faults).
IMAGES_PER_PASS = 64


#: Masks per independently seeded block of random draws (see the module's docstring).
MASKS_PER_DRAW = 16


def auto_batch(perturbations_per_eval: int | None, n_images: int) -> int:
    """Masks per forward pass: as given, or ``IMAGES_PER_PASS // N`` (at least 1)."""
    if perturbations_per_eval is None:
        return max(1, IMAGES_PER_PASS // n_images)
    return perturbations_per_eval


def check_mask_arguments(
    n_masks: int, grid_size: int, p_keep: float, batch: int, seed: int | None = None
) -> None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"seed must be an integer >= 0 or None, got {seed!r}")
    if not isinstance(n_masks, int) or n_masks < 1:
        raise ValueError(f"n_masks must be an integer >= 1, got {n_masks!r}")
    if not isinstance(grid_size, int) or grid_size < 1:
        raise ValueError(f"grid_size must be an integer >= 1, got {grid_size!r}")
    if not 0 < p_keep < 1:
        raise ValueError(f"p_keep must lie strictly between 0 and 1, got {p_keep!r}")
    if not isinstance(batch, int) or batch < 1:
        raise ValueError(f"perturbations_per_eval must be an integer >= 1, got {batch!r}")


def generate_masks(
    count: int,
    height: int,
    width: int,
    grid_size: int,
    p_keep: float,
    generator: torch.Generator,
    device: torch.device,
) -> torch.Tensor:
    """``count`` soft RISE masks ``(count, H, W)`` in [0, 1] (Petsiuk et al., BMVC 2018).

    A ``grid_size x grid_size`` binary grid (each cell kept with probability ``p_keep``)
    is upsampled bilinearly to ``(grid_size + 1)`` cells of ``ceil(side / grid_size)``
    pixels, then cropped to ``H x W`` at a random offset in ``[0, cell)`` on each axis.
    The random draws come from ``generator`` (on the CPU); the masks are made on ``device``.
    """
    cell_h, cell_w = math.ceil(height / grid_size), math.ceil(width / grid_size)
    grid = torch.rand(count, 1, grid_size, grid_size, generator=generator) < p_keep
    dy = torch.randint(cell_h, (count,), generator=generator)
    dx = torch.randint(cell_w, (count,), generator=generator)
    return _upsample_and_crop(grid.to(device), dy.to(device), dx.to(device), height, width)


def _upsample_and_crop(
    grid: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, height: int, width: int
) -> torch.Tensor:
    count, grid_size = grid.shape[0], grid.shape[-1]
    cell_h, cell_w = math.ceil(height / grid_size), math.ceil(width / grid_size)
    upsampled = F.interpolate(
        grid.float(),
        size=((grid_size + 1) * cell_h, (grid_size + 1) * cell_w),
        mode="bilinear",
        align_corners=False,
    )[:, 0]
    rows = dy[:, None] + torch.arange(height, device=grid.device)
    cols = dx[:, None] + torch.arange(width, device=grid.device)
    batch = torch.arange(count, device=grid.device)[:, None, None]
    return upsampled[batch, rows[:, :, None], cols[:, None, :]]


def block_generator(seed: int, block: int) -> torch.Generator:
    """The CPU generator of block ``block`` of the mask stream of ``seed``."""
    # SeedSequence mixes (seed, block) so that no two pairs share a stream.
    state = np.random.SeedSequence([seed, block]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) >> 1)


def masks_by_index(
    first: int,
    count: int,
    height: int,
    width: int,
    grid_size: int,
    p_keep: float,
    seed: int,
    device: torch.device,
) -> torch.Tensor:
    """Masks ``first`` to ``first + count - 1`` of the stream of ``seed``, ``(count, H, W)``."""
    first_block, last_block = first // MASKS_PER_DRAW, (first + count - 1) // MASKS_PER_DRAW
    cell_h, cell_w = math.ceil(height / grid_size), math.ceil(width / grid_size)
    grids, dys, dxs = [], [], []
    for block in range(first_block, last_block + 1):
        generator = block_generator(seed, block)
        shape = (MASKS_PER_DRAW, 1, grid_size, grid_size)
        grids.append(torch.rand(shape, generator=generator) < p_keep)
        dys.append(torch.randint(cell_h, (MASKS_PER_DRAW,), generator=generator))
        dxs.append(torch.randint(cell_w, (MASKS_PER_DRAW,), generator=generator))
    start = first - first_block * MASKS_PER_DRAW
    picked = [torch.cat(draws)[start : start + count].to(device) for draws in (grids, dys, dxs)]
    return _upsample_and_crop(*picked, height, width)


def mask_batches(
    n_masks: int,
    batch: int,
    height: int,
    width: int,
    grid_size: int,
    p_keep: float,
    seed: int | None,
    device: torch.device,
) -> Iterator[torch.Tensor]:
    """Yield the ``n_masks`` masks of ``seed``'s stream in batches of at most ``batch``."""
    if seed is None:
        # Follow torch's global RNG, so torch.manual_seed makes runs repeatable too.
        seed = int(torch.randint(2**62, (1,)).item())
    for start in range(0, n_masks, batch):
        count = min(batch, n_masks - start)
        yield masks_by_index(start, count, height, width, grid_size, p_keep, seed, device)


@dataclass
class MaskedScoreSums:
    """What one pass over the masks gathers, for ``N`` images and ``K'`` classes.

    ``score_mask``: ``sum_i s_ik * M_i(u)``, ``(N, K', H, W)``; ``score``: ``sum_i s_ik``,
    ``(N, K')``; ``mask``: ``sum_i M_i(u)``, ``(H, W)``; ``n_masks``; ``base_scores``: the
    scores of the unmasked images ``(N, K)``; ``classes``: the ``(N, K')`` class indices
    kept (``None``: all classes).
    """

    score_mask: torch.Tensor
    score: torch.Tensor
    mask: torch.Tensor
    n_masks: int
    base_scores: torch.Tensor
    classes: torch.Tensor | None


def masked_score_sums(
    forward_func: Callable,
    inputs: tuple[torch.Tensor, ...],
    baselines: tuple[torch.Tensor | float, ...],
    select: Callable[[torch.Tensor], torch.Tensor] | None,
    score: ScoreType,
    n_masks: int,
    grid_size: int,
    p_keep: float,
    perturbations_per_eval: int,
    seed: int | None,
    additional_forward_args: Any = None,
    show_progress: bool = False,
) -> MaskedScoreSums:
    """Run ``forward_func`` on every image masked by every mask; sum scores and masks.

    Args:
        select: maps the unmasked images' scores ``(N, K)`` to the ``(N, K')`` class
            indices kept per image; ``None`` keeps all classes (then ``K' = K``).
        perturbations_per_eval: masks per forward pass; each pass holds ``N`` times as many
            images.

    Returns:
        :class:`MaskedScoreSums`.
    """
    n = inputs[0].shape[0]
    height, width = inputs[0].shape[-2:]
    device = inputs[0].device
    with torch.no_grad():
        base_scores = class_scores(
            forward_logits(forward_func, inputs, additional_forward_args), score
        )
        classes = select(base_scores).to(device) if select is not None else None
        bases = [_as_batch(base, x) for x, base in zip(inputs, baselines)]
        diffs = [x - base for x, base in zip(inputs, bases)]
        sums: MaskedScoreSums | None = None
        batches = mask_batches(
            n_masks, perturbations_per_eval, height, width, grid_size, p_keep, seed, device
        )
        total = math.ceil(n_masks / perturbations_per_eval)
        for masks in tqdm(
            batches, total=total, desc="masks", disable=not show_progress, leave=False
        ):
            b = masks.shape[0]
            m = masks[None, :, None]  # (1, B, 1, H, W), broadcast over images and channels
            # base + m * (x - base) in one fused kernel per input.
            masked = tuple(
                torch.addcmul(base[:, None], m, diff[:, None]).reshape(n * b, *diff.shape[1:])
                for base, diff in zip(bases, diffs)
            )
            # Images are laid out image-major (image i, then its b masks): interleave.
            extra = _expand_additional_forward_args(
                _format_additional_forward_args(additional_forward_args),
                b,
                ExpansionTypes.repeat_interleave,
            )
            scores = class_scores(forward_logits(forward_func, masked, extra), score).reshape(
                n, b, -1
            )
            if classes is not None:
                scores = scores.gather(2, classes[:, None, :].expand(n, b, classes.shape[1]))
            score_mask = torch.einsum("nbk,bhw->nkhw", scores, masks)
            if sums is None:
                sums = MaskedScoreSums(
                    score_mask, scores.sum(1), masks.sum(0), b, base_scores, classes
                )
            else:
                sums.score_mask += score_mask
                sums.score += scores.sum(1)
                sums.mask += masks.sum(0)
                sums.n_masks += b
    assert sums is not None
    return sums


def format_baselines(
    baselines: Any, inputs: tuple[torch.Tensor, ...]
) -> tuple[torch.Tensor | float, ...]:
    """Captum-style baselines (``None``: zeros) as one entry per input tensor."""
    if baselines is None:
        return tuple(0.0 for _ in inputs)
    formatted = baselines if isinstance(baselines, tuple) else (baselines,)
    if len(formatted) != len(inputs):
        raise ValueError(
            f"baselines must have one entry per input ({len(inputs)}), got {len(formatted)}"
        )
    for base, x in zip(formatted, inputs):
        if isinstance(base, torch.Tensor) and base.dim() > 0:
            try:
                torch.broadcast_shapes(base.shape, x.shape)
            except RuntimeError as error:
                raise ValueError(
                    f"baselines of shape {tuple(base.shape)} do not broadcast to inputs "
                    f"{tuple(x.shape)}; give a scalar, (1, C, H, W) or (N, C, H, W)"
                ) from error
    return formatted


def _as_batch(baseline: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
    """A baseline broadcast to ``x``'s shape (scalar, ``(1, C, H, W)`` or ``(N, C, H, W)``)."""
    if isinstance(baseline, torch.Tensor):
        return baseline.to(x.device, x.dtype).expand_as(x)
    return torch.full_like(x, float(baseline))
