"""A small vision transformer: torchvision's ``VisionTransformer`` at ViT-Tiny's size.

torchvision's ViT builders fix the width and depth of ViT-B/L/H (86M parameters and up), too
large to train on a CPU; this builder keeps torchvision's class (so every tool that knows
torchvision's ViT, Grad-CAM's token layer included, knows this one) at the size of ViT-Tiny
(Touvron et al., DeiT, 2021): 12 blocks of width 192 with 3 heads, about 5.5M parameters.
"""

from __future__ import annotations

from torchvision.models.vision_transformer import VisionTransformer


def vit_tiny(
    num_classes: int = 10, image_size: int = 128, patch_size: int = 16
) -> VisionTransformer:
    """A randomly initialised ViT-Tiny for ``image_size`` images, ``patch_size`` patches.

    Args:
        num_classes: number of output logits.
        image_size: the square images' side, a multiple of ``patch_size`` (the position
            embeddings are one per patch).
        patch_size: the patches' side.

    Returns:
        The model: input ``(N, 3, image_size, image_size)``, output logits ``(N, K)``.

    Example:
        >>> import torch
        >>> from captum_explainer.models import vit_tiny
        >>> model = vit_tiny(num_classes=10, image_size=64).eval()
        >>> model(torch.rand(2, 3, 64, 64)).shape
        torch.Size([2, 10])
        >>> sum(p.numel() for p in model.parameters()) // 100_000  # about 5.5M
        54
    """
    if image_size % patch_size:
        raise ValueError(
            f"image_size must be a multiple of patch_size {patch_size}, got {image_size!r}"
        )
    return VisionTransformer(
        image_size=image_size,
        patch_size=patch_size,
        num_layers=12,
        num_heads=3,
        hidden_dim=192,
        mlp_dim=768,
        num_classes=num_classes,
    )
