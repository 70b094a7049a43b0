"""The classifiers that get explained (and, later, the Explainer networks)."""

from captum_explainer.models.adapters import LogitsOf, logits_of, output_logits
from captum_explainer.models.explainer_nets import (
    EXPLAINERS,
    SmallExplainer,
    build_explainer,
    deeplabv3_explainer,
)
from captum_explainer.models.loading import (
    CLASSIFIERS,
    build_classifier,
    load_amortized,
    load_classifier,
    load_explainer,
)
from captum_explainer.models.multilabel import resnet50_multilabel, vgg16_multilabel
from captum_explainer.models.pretrained import (
    synthetic_amortized_rise,
    synthetic_classifier,
    synthetic_explainer,
)
from captum_explainer.models.small_cnn import SmallCNN, small_cnn
from captum_explainer.models.vit import vit_tiny

__all__ = [
    "CLASSIFIERS",
    "EXPLAINERS",
    "LogitsOf",
    "logits_of",
    "output_logits",
    "SmallExplainer",
    "build_explainer",
    "deeplabv3_explainer",
    "load_explainer",
    "load_amortized",
    "SmallCNN",
    "build_classifier",
    "load_classifier",
    "resnet50_multilabel",
    "small_cnn",
    "synthetic_amortized_rise",
    "synthetic_classifier",
    "synthetic_explainer",
    "vgg16_multilabel",
    "vit_tiny",
]
