"""Datasets: the built-in synthetic scenes and real-objects world, and multi-label views of
VOC-2007 and COCO-2014.

Every dataset returns ``(image, labels, segmentation)`` items (see :data:`Item`).
"""

from captum_explainer.data._object_sources import ObjectSources
from captum_explainer.data.loading import collate_items
from captum_explainer.data.real_objects import ObjectSceneConfig, RealObjects
from captum_explainer.data.synthetic import SYNTHETIC_NORMALIZATION, SceneConfig, SyntheticScenes
from captum_explainer.data.types import BOUNDARY_LABEL, IMAGENET_NORMALIZATION, Item, Normalization

__all__ = [
    "BOUNDARY_LABEL",
    "IMAGENET_NORMALIZATION",
    "Item",
    "Normalization",
    "ObjectSources",
    "ObjectSceneConfig",
    "RealObjects",
    "SYNTHETIC_NORMALIZATION",
    "SceneConfig",
    "SyntheticScenes",
    "collate_items",
]
