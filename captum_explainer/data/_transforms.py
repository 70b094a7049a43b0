"""The paper's transforms for real images: resize to a square side, ImageNet normalisation."""

from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from captum_explainer.data.types import Normalization


def read_image(path: str | os.PathLike) -> Image.Image:
    """An image file, fully decoded and turned upright, or a ``ValueError`` naming the file
    and what is wrong (not an image, more pixels than PIL's limit, truncated or corrupt data,
    no permission to read it).

    A photo whose EXIF orientation tag says it was taken rotated is turned as every image
    viewer shows it (the classifier sees what the user sees); an animated image gives its
    first frame."""
    try:
        with Image.open(path) as image:
            image.load()  # decoded now: the pixels outlive the closed file
            upright = ImageOps.exif_transpose(image)
            return image if upright is None else upright
    except UnidentifiedImageError as error:
        name = os.path.basename(path)
        raise ValueError(
            f"cannot read image {str(path)!r}: '{name}' is not an image file PIL can read"
        ) from error
    except Image.DecompressionBombError as error:
        raise ValueError(
            f"image {str(path)!r} has more pixels than PIL's limit ({Image.MAX_IMAGE_PIXELS}); "
            f"resize it first"
        ) from error
    except (OSError, ValueError) as error:  # truncated or corrupt data, unknown modes
        raise ValueError(f"image {str(path)!r} could not be read: {error}") from error


def image_to_tensor(
    image: Image.Image, size: int, normalization: Normalization, channels: int = 3
) -> torch.Tensor:
    """A PIL image as RGB (or grayscale with ``channels=1``) in [0, 1], resized (bilinear)
    to ``size x size`` and normalised: ``(channels, size, size)``.

    16-bit grayscale images (PNG's ``I;16`` modes) keep their full range (``convert("RGB")``
    would clip them to white); 32-bit integer and float images are refused, since their
    range is not known.
    """
    if image.mode.startswith("I;16"):
        gray = np.asarray(image, dtype=np.float32) / 65535.0
        resized = Image.fromarray(gray, mode="F").resize((size, size), Image.BILINEAR)
        array = np.repeat(np.asarray(resized, dtype=np.float32)[:, :, None], channels, axis=2)
    elif image.mode in ("I", "F"):
        raise ValueError(
            f"images of PIL mode {image.mode!r} (32-bit integer or float) have no known range; "
            f"give 8- or 16-bit images"
        )
    else:
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")
        mode = "RGB" if channels == 3 else "L"
        resized = image.convert(mode).resize((size, size), Image.BILINEAR)
        array = np.asarray(resized, dtype=np.float32).reshape(size, size, channels) / 255.0
    tensor = torch.from_numpy(np.clip(array, 0.0, 1.0)).permute(2, 0, 1).contiguous()
    return normalization.normalize(tensor)


def segmentation_to_tensor(segmentation: np.ndarray, size: int) -> torch.Tensor:
    """A class map resized with nearest neighbour (labels must not blend): ``(size, size)``."""
    resized = Image.fromarray(segmentation.astype(np.uint8)).resize((size, size), Image.NEAREST)
    return torch.from_numpy(np.asarray(resized).astype(np.int64))


def check_image_size(image_size: int) -> int:
    if not isinstance(image_size, int) or image_size < 8:
        raise ValueError(f"image_size must be an integer >= 8, got {image_size!r}")
    return image_size


def image_file_to_tensor(
    path: str | os.PathLike, size: int, normalization: Normalization, channels: int = 3
) -> tuple[torch.Tensor, tuple[int, int]]:
    """:func:`read_image` then :func:`image_to_tensor`, every error naming the file; also
    the image's original ``(width, height)``."""
    image = read_image(path)
    try:
        return image_to_tensor(image, size, normalization, channels), image.size
    except ValueError as error:  # e.g. a 32-bit mode without a known range
        raise ValueError(f"image {str(path)!r} could not be read: {error}") from error
