"""RISE's random masks, the pass over them, and the base class of the methods built on it.

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
from captum._utils.typing import BaselineType, TargetType
from captum.attr import PerturbationAttribution
from captum.log import log_usage
from tqdm.auto import tqdm

from captum_explainer.attr._base import (
    format_inputs,
    format_output,
    forward_logits,
    preserved_model_state,
    resolve_targets,
)
from captum_explainer.scores import ScoreType, check_score, class_scores

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
    draws = _draw(count, height, width, grid_size, p_keep, generator)
    return _upsample_and_crop(*(d.to(device) for d in draws), height, width)


def _draw(
    count: int, height: int, width: int, grid_size: int, p_keep: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The random part of ``count`` masks, on the CPU: the kept cells and the crop offsets."""
    cell_h, cell_w = math.ceil(height / grid_size), math.ceil(width / grid_size)
    grid = torch.rand(count, 1, grid_size, grid_size, generator=generator) < p_keep
    dy = torch.randint(cell_h, (count,), generator=generator)
    dx = torch.randint(cell_w, (count,), generator=generator)
    return grid, dy, dx


def _upsample_and_crop(
    grid: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, height: int, width: int
) -> torch.Tensor:
    """Upsample the grids bilinearly and crop each at its offset, as two small matrix
    products per mask: bilinear upsampling is separable, ``U = A_y G A_x^T``, so the crop
    rows ``dy .. dy + H`` of ``U`` are ``A_y[dy .. dy + H] G A_x^T`` (and alike for the
    columns). Nothing of size ``(grid_size + 1) * cell`` is made per mask, and each mask is
    computed on its own, so its values do not depend on how many masks share the call."""
    grid_size, device = grid.shape[-1], grid.device
    cell_h, cell_w = math.ceil(height / grid_size), math.ceil(width / grid_size)
    rows = _bilinear_weights(grid_size, (grid_size + 1) * cell_h, device)
    cols = _bilinear_weights(grid_size, (grid_size + 1) * cell_w, device)
    rows = rows[dy[:, None] + torch.arange(height, device=device)]  # (count, H, g)
    cols = cols[dx[:, None] + torch.arange(width, device=device)]  # (count, W, g)
    return rows @ (grid[:, 0].float() @ cols.transpose(1, 2))


def _bilinear_weights(cells: int, size: int, device: torch.device) -> torch.Tensor:
    """``(size, cells)``: row ``i`` holds the weights of the ``cells`` inputs in output ``i``
    of ``F.interpolate(..., mode="bilinear", align_corners=False)`` along one axis."""
    identity = torch.eye(cells, device=device)[None, None]
    return F.interpolate(identity, size=(size, cells), mode="bilinear", align_corners=False)[0, 0]


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
    blocks = [
        _draw(MASKS_PER_DRAW, height, width, grid_size, p_keep, block_generator(seed, block))
        for block in range(first_block, last_block + 1)
    ]
    start = first - first_block * MASKS_PER_DRAW
    picked = [torch.cat(part)[start : start + count].to(device) for part in zip(*blocks)]
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


@dataclass(frozen=True)
class MaskSettings:
    """How the random masks are drawn and run: declared once for every mask-sampling method.

    Args:
        n_masks: number of random masks (4000 by default; 8000 is also common).
        grid_size: cells per side of the random grid.
        p_keep: probability that a cell is kept, in (0, 1).
        baselines: what masked pixels become (Captum's forms; default zeros, i.e. the
            dataset's mean colour for normalised inputs).
        perturbations_per_eval: masks per forward pass (each pass holds ``N`` times as many
            images); memory grows with it, never with ``n_masks``. ``None``: ``64 // N``
            (at least 1), about 64 images per pass.
        seed: an integer >= 0: mask ``i`` depends on ``(seed, i)`` only, so the same seed
            gives the same map whatever the number of images, ``perturbations_per_eval`` or
            device. ``None`` draws one from torch's global generator, so
            ``torch.manual_seed`` fixes it too.
        show_progress: show a progress bar over the mask batches.
    """

    n_masks: int = 4000
    grid_size: int = 7
    p_keep: float = 0.5
    baselines: Any = None
    perturbations_per_eval: int | None = None
    seed: int | None = None
    show_progress: bool = False

    def masks_per_pass(self, n_images: int) -> int:
        """``perturbations_per_eval``, or the default for ``n_images`` images, checked."""
        batch = auto_batch(self.perturbations_per_eval, n_images)
        check_mask_arguments(self.n_masks, self.grid_size, self.p_keep, batch, self.seed)
        return batch


def masked_score_sums(
    forward_func: Callable,
    inputs: tuple[torch.Tensor, ...],
    select: Callable[[torch.Tensor], torch.Tensor] | None,
    score: ScoreType,
    settings: MaskSettings,
    additional_forward_args: Any = None,
) -> MaskedScoreSums:
    """Run ``forward_func`` on every image masked by every mask; sum scores and masks.

    Args:
        select: maps the unmasked images' scores ``(N, K)`` to the ``(N, K')`` class
            indices kept per image; ``None`` keeps all classes (then ``K' = K``).
        settings: the masks (:class:`MaskSettings`).

    Returns:
        :class:`MaskedScoreSums`.
    """
    n = inputs[0].shape[0]
    height, width = inputs[0].shape[-2:]
    device = inputs[0].device
    per_pass = settings.masks_per_pass(n)
    baselines = format_baselines(settings.baselines, inputs)
    with torch.no_grad():
        base_scores = class_scores(
            forward_logits(forward_func, inputs, additional_forward_args), score
        )
        classes = select(base_scores).to(device) if select is not None else None
        bases = [_as_batch(base, x) for x, base in zip(inputs, baselines)]
        diffs = [x - base for x, base in zip(inputs, bases)]
        sums: MaskedScoreSums | None = None
        batches = mask_batches(
            settings.n_masks,
            per_pass,
            height,
            width,
            settings.grid_size,
            settings.p_keep,
            settings.seed,
            device,
        )
        total = math.ceil(settings.n_masks / per_pass)
        for masks in tqdm(
            batches, total=total, desc="masks", disable=not settings.show_progress, leave=False
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


class MaskSamplingAttribution(PerturbationAttribution):
    """The base of RISE and undesirable-pixel maps: one pass of the model over random masks.

    The mask settings (:class:`MaskSettings`) are declared here, once. A subclass supplies
    only what differs: which classes the pass keeps (:meth:`_classes`), what maps it makes
    of the sums (:meth:`_maps`) and the options of its own that ``attribute`` accepts
    (:meth:`_options`).

    Args:
        forward_func: the model, or any function returning ``(N, K)`` logits.
        score: how logits become the explained score: ``"softmax"`` (default, single-label
            models, as TorchRay), ``"sigmoid"`` (multi-label models), ``"logit"`` or a callable.
    """

    def __init__(self, forward_func: Callable, score: ScoreType = "softmax") -> None:
        super().__init__(forward_func)
        self.score = check_score(score)

    @property
    def multiplies_by_inputs(self) -> bool:
        return False

    @log_usage()
    def attribute(
        self,
        inputs: torch.Tensor | tuple[torch.Tensor, ...],
        target: TargetType = None,
        additional_forward_args: Any = None,
        n_masks: int = 4000,
        grid_size: int = 7,
        p_keep: float = 0.5,
        baselines: BaselineType = None,
        perturbations_per_eval: int | None = None,
        seed: int | None = None,
        show_progress: bool = False,
        **options: Any,
    ) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """The method's map of the target class.

        Args:
            inputs: images ``(N, C, H, W)``, or a tuple of such batches masked alike.
            target: the explained class, in any Captum form.
            additional_forward_args: passed to ``forward_func`` after the inputs; tensors
                with a batch dimension are expanded alongside the masked images.
            n_masks, grid_size, p_keep, baselines, perturbations_per_eval, seed,
                show_progress: the masks, see :class:`MaskSettings`.
            **options: the method's own options (see its class).

        Returns:
            ``(N, 1, H, W)`` per input tensor (a tuple for a tuple input).
        """
        formatted, is_tuple = format_inputs(inputs)
        settings = MaskSettings(
            n_masks, grid_size, p_keep, baselines, perturbations_per_eval, seed, show_progress
        )
        chosen = self._options(**options)
        maps = self._run(formatted, target, additional_forward_args, settings, chosen)
        return format_output(is_tuple, [maps] * len(formatted))

    def _run(
        self,
        inputs: tuple[torch.Tensor, ...],
        target: TargetType,
        additional_forward_args: Any,
        settings: MaskSettings,
        options: dict[str, Any],
        all_classes: bool = False,
    ) -> Any:
        n = inputs[0].shape[0]

        def select(base_scores: torch.Tensor) -> torch.Tensor:
            return self._classes(target, n, base_scores, options)

        with preserved_model_state(self.forward_func):
            sums = masked_score_sums(
                self.forward_func,
                inputs,
                None if all_classes else select,
                self.score,
                settings,
                additional_forward_args,
            )
        return self._maps(sums, settings, options)

    def _options(self, **options: Any) -> dict[str, Any]:
        """The method's own ``attribute`` options, checked; none by default."""
        if options:
            raise TypeError(
                f"{type(self).__name__}.attribute() got unexpected options {sorted(options)}"
            )
        return {}

    def _classes(
        self, target: TargetType, n: int, base_scores: torch.Tensor, options: dict[str, Any]
    ) -> torch.Tensor:
        """``(N, K')`` class indices the pass keeps per image (default: the target)."""
        return resolve_targets(target, n, base_scores.shape[1])[:, None]

    def _maps(self, sums: MaskedScoreSums, settings: MaskSettings, options: dict[str, Any]) -> Any:
        """What the method makes of the sums; each subclass says."""
        raise NotImplementedError
