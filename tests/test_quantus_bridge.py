"""The Quantus bridge without Quantus: what it says when a randomisation metric would hand a
randomised classifier to a method whose maps cannot depend on it."""

from __future__ import annotations

import warnings

import pytest
import torch

from captum_explainer.data import SYNTHETIC_NORMALIZATION, SyntheticScenes, collate_items
from captum_explainer.models import synthetic_classifier, synthetic_explainer
from captum_explainer.tasks.quantus import quantus_explain_func


def _batch():
    images, labels, _ = collate_items(
        [SyntheticScenes(2, split="test", seed=5)[i] for i in range(2)]
    )
    return images.numpy(), labels.float().argmax(1).numpy()


def test_the_explainer_meeting_a_second_model_warns_and_points_to_its_own_check():
    x, y = _batch()
    explain = quantus_explain_func(
        "explainer", SYNTHETIC_NORMALIZATION, explainer=synthetic_explainer()
    )
    model = synthetic_classifier()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        explain(model, x, y)
        explain(model, x, y)  # the same model again: no randomisation, no warning
    randomised = synthetic_classifier()
    torch.nn.init.normal_(randomised.head.weight)
    with pytest.warns(UserWarning, match="--explainer-steps"):
        explain(randomised, x, y)


def test_a_model_dependent_method_meets_randomised_models_without_a_word():
    x, y = _batch()
    explain = quantus_explain_func("gradcam", SYNTHETIC_NORMALIZATION)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(2):
            explain(synthetic_classifier(), x, y)
