"""Metrics: functions of maps, tensors and a forward function, knowing nothing of the methods.

- :mod:`.localization`: maps against ground truth (pointing games, the Explainer paper's mask
  scores) and the one rule that scales maps to [0, 1];
- :mod:`.per_class`: every class's map against its own class's pixels (class-specific
  localisation);
- :mod:`.faithfulness`: maps against the model (saliency metric, deletion and insertion,
  class specificity, undesirable-pixel recovery);
- :mod:`.road`: ROAD, removal with noisy linear imputation (MoRF and LeRF curves);
- :mod:`.controls`: the controls beside a faithfulness score: does a mask's shape alone give its
  class away (the mask-only check), what does sharpness alone change (the blur-matched maps);
- :mod:`.classification`: the classifier's own accuracy (average precision).
"""

from captum_explainer.metrics.classification import average_precision, mean_average_precision
from captum_explainer.metrics.controls import (
    MaskOnlyResult,
    blur_to_match,
    mask_only_check,
    roughness,
)
from captum_explainer.metrics.faithfulness import (
    CANVASES,
    SPECIFICITY_THRESHOLDS,
    CausalCurves,
    ClassSpecificity,
    class_specificity,
    deletion_insertion,
    gaussian_blur,
    insertion_canvas,
    random_maps,
    saliency_metric,
    undesirable_recovery,
)
from captum_explainer.metrics.localization import (
    F1_THRESHOLDS,
    IOU_THRESHOLDS,
    POINTING_PROTOCOLS,
    SCALE_RULES,
    class_pairs,
    default_tolerance,
    energy_pointing_game,
    mask_scores,
    merge_class_maps,
    per_class_mean,
    pointing_game,
    roc_auc,
    scale_maps,
)
from captum_explainer.metrics.per_class import (
    IMAGE_SCORES,
    PAIR_SCORES,
    class_mask_scores,
    scale_class_maps,
)
from captum_explainer.metrics.road import (
    ROAD_FRACTIONS,
    RoadCurves,
    noisy_linear_imputation,
    road,
)

__all__ = [
    "CANVASES",
    "F1_THRESHOLDS",
    "IMAGE_SCORES",
    "IOU_THRESHOLDS",
    "PAIR_SCORES",
    "ROAD_FRACTIONS",
    "POINTING_PROTOCOLS",
    "SCALE_RULES",
    "SPECIFICITY_THRESHOLDS",
    "CausalCurves",
    "ClassSpecificity",
    "MaskOnlyResult",
    "RoadCurves",
    "average_precision",
    "blur_to_match",
    "class_mask_scores",
    "class_pairs",
    "class_specificity",
    "default_tolerance",
    "deletion_insertion",
    "energy_pointing_game",
    "gaussian_blur",
    "insertion_canvas",
    "mask_only_check",
    "mask_scores",
    "mean_average_precision",
    "merge_class_maps",
    "noisy_linear_imputation",
    "per_class_mean",
    "pointing_game",
    "random_maps",
    "road",
    "roc_auc",
    "roughness",
    "saliency_metric",
    "scale_class_maps",
    "scale_maps",
    "undesirable_recovery",
]
