"""Rasterisers for the shapes of :class:`SyntheticScenes`.

Each shape is defined in a canonical frame where the object spans ``[-1, 1]`` on both
axes; the caller rotates and scales pixel coordinates into that frame, so one function
covers every size, position and rotation. All functions take coordinate arrays of any
shape and return a boolean array of the same shape, computed with array operations only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _regular_polygon(n_vertices: int, radius: float = 1.0, phase: float = 0.0) -> np.ndarray:
    angles = phase + 2 * np.pi * np.arange(n_vertices) / n_vertices
    return np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1)


def _star_polygon(n_points: int = 5, outer: float = 1.0, inner: float = 0.42) -> np.ndarray:
    angles = -np.pi / 2 + np.pi * np.arange(2 * n_points) / n_points
    radii = np.where(np.arange(2 * n_points) % 2 == 0, outer, inner)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


def inside_polygon(u: np.ndarray, v: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Even-odd rule over all edges at once; works for non-convex polygons (star, L)."""
    x0, y0 = vertices[:, 0], vertices[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    u = u[..., None]
    v = v[..., None]
    straddles = (y0 > v) != (y1 > v)
    # x where the edge crosses the horizontal line through the point; the 1e-12 keeps
    # horizontal edges (which never straddle) from dividing by zero.
    x_cross = x0 + (v - y0) * (x1 - x0) / (y1 - y0 + 1e-12)
    crossings = straddles & (u < x_cross)
    return (crossings.sum(axis=-1) % 2) == 1


def circle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u**2 + v**2 <= 1.0


def square(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    # 0.82 gives a square whose area is close to the circle's.
    return (np.abs(u) <= 0.82) & (np.abs(v) <= 0.82)


_TRIANGLE = _regular_polygon(3, radius=1.0, phase=-np.pi / 2)
_STAR = _star_polygon()
_ELL = np.array(
    [[-0.8, -0.95], [-0.25, -0.95], [-0.25, 0.35], [0.8, 0.35], [0.8, 0.95], [-0.8, 0.95]]
)


def triangle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return inside_polygon(u, v, _TRIANGLE)


def star(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return inside_polygon(u, v, _STAR)


def cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    arm = 0.3
    return ((np.abs(u) <= arm) & (np.abs(v) <= 0.95)) | ((np.abs(v) <= arm) & (np.abs(u) <= 0.95))


def ring(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    r2 = u**2 + v**2
    return (r2 <= 1.0) & (r2 >= 0.5**2)


def crescent(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    # A disc with an offset disc cut out; chosen over a hexagon, which at 16 px differs
    # from a circle by about one pixel and made the world needlessly hard to learn.
    return (u**2 + v**2 <= 1.0) & ((u - 0.45) ** 2 + v**2 > 0.75**2)


def ell(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return inside_polygon(u, v, _ELL)


#: The shape classes, in label order. Colours are random per instance, so a classifier
#: can only tell the classes apart by their shape.
SHAPES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "circle": circle,
    "square": square,
    "triangle": triangle,
    "star": star,
    "cross": cross,
    "ring": ring,
    "crescent": crescent,
    "ell": ell,
}
