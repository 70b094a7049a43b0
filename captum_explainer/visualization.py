"""Figures on top of ``captum.attr.visualization``.

Captum's ``visualize_image_attr`` takes channels-last numpy arrays and divides by the
map's maximum, so an all-zero map fails there. :func:`visualize_attribution` converts
tensors, de-normalises the image and draws an all-zero map as what it is: empty.
Figures are built without pyplot, so the user's matplotlib backend is never changed.
"""

from __future__ import annotations

import numpy as np
import torch
from captum.attr import visualization as captum_viz
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from captum_explainer.attr.utils import to_numpy_image
from captum_explainer.data._types import Normalization


def image_to_numpy(image: torch.Tensor, normalization: Normalization | None = None) -> np.ndarray:
    """A ``(C, H, W)`` image as channels-last numpy in [0, 1], de-normalised if asked."""
    if normalization is not None:
        image = normalization.denormalize(image)
    return np.clip(to_numpy_image(image), 0.0, 1.0)


def _is_empty(values: np.ndarray, sign: str) -> bool:
    if sign == "positive":
        return not (values > 0).any()
    if sign == "negative":
        return not (values < 0).any()
    return not np.abs(values).max() > 0


def visualize_attribution(
    attribution: torch.Tensor,
    image: torch.Tensor | None = None,
    normalization: Normalization | None = None,
    method: str = "blended_heat_map",
    sign: str = "absolute_value",
    plt_fig_axis: tuple[Figure, Axes] | None = None,
    title: str | None = None,
    **kwargs: object,
) -> tuple[Figure, Axes]:
    """Draw one attribution map with Captum's ``visualize_image_attr``.

    Args:
        attribution: ``(C, H, W)`` or ``(1, H, W)`` (one example of a batch).
        image: the explained image ``(C, H, W)``, in the model's normalised space when
            ``normalization`` is given.
        normalization: undoes the model's input normalisation for display.
        method, sign, plt_fig_axis, title, kwargs: as Captum's ``visualize_image_attr``.

    Returns:
        Captum's ``(figure, axis)``.
    """
    attr = to_numpy_image(attribution)
    original = image_to_numpy(image, normalization) if image is not None else None
    if _is_empty(attr, sign):
        # Nothing to normalise: show the image alone (or a blank map), marked as empty.
        if plt_fig_axis is None:
            figure = Figure(figsize=(6, 6))
            plt_fig_axis = (figure, figure.subplots())
        figure, axis = plt_fig_axis
        shown = original if original is not None else np.zeros(attr.shape[:2])
        axis.imshow(shown, cmap=None if original is not None else "gray", vmin=0, vmax=1)
        axis.set_xticks([])
        axis.set_yticks([])
        axis.set_title(f"{title} (all zero)" if title else "(all zero)")
        return figure, axis
    return captum_viz.visualize_image_attr(
        attr, original, method=method, sign=sign, plt_fig_axis=plt_fig_axis, title=title,
        use_pyplot=False, **kwargs,
    )
