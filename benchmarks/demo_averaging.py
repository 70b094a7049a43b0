#!/usr/bin/env python
"""How the 0.4 aggregation moved the demo's faithfulness columns: each per-pair column under
0.3's demo averaging (the mean over (image, class) pairs) and under 0.4's one rule (the mean of
the per-class means), on the demo's default run (8 images, seed 0, demo presets).

    python benchmarks/demo_averaging.py
"""

import torch

from captum_explainer.data import SYNTHETIC_NORMALIZATION, SyntheticScenes, collate_items
from captum_explainer.evaluation import Models, build_methods
from captum_explainer.evaluation.aggregate import method_row
from captum_explainer.evaluation.faithfulness import score_batch
from captum_explainer.models import (
    synthetic_amortized_rise,
    synthetic_classifier,
    synthetic_explainer,
)

c = synthetic_classifier()
models = Models(
    c, synthetic_explainer(), SYNTHETIC_NORMALIZATION, amortized=synthetic_amortized_rise()
)
methods = build_methods(models, None, "demo", 0)
data = SyntheticScenes(8, split="test", seed=10_000)
images, labels, seg = collate_items([data[i] for i in range(8)])
result, games = score_batch(methods, c, images, labels, seg)
K = labels.shape[1]
print("method | column | 0.3 (pairs) | 0.4 (classes) | change")
for name in games.per_pair:
    new = method_row(name, games.per_image[name], games.per_pair[name], result.pair_classes, K)
    for col, v in games.per_pair[name].items():
        old = float(v.float().mean())
        if abs(old - new[col]) > 5e-4 or col in ("deletion_auc", "insertion_auc"):
            print(f"{name} | {col} | {old:.3f} | {new[col]:.3f} | {new[col] - old:+.3f}")
print(
    "pairs",
    len(result.pair_classes),
    "per class",
    torch.bincount(result.pair_classes, minlength=K).tolist(),
)
