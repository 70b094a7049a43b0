import pytest
import torch
from torch.utils.data import DataLoader

from captum_explainer.data import SyntheticScenes
from captum_explainer.metrics.classification import mean_average_precision
from captum_explainer.models import SmallCNN, small_cnn, synthetic_classifier
from captum_explainer.models.pretrained import SYNTHETIC_CLASSIFIER, manifest
from captum_explainer.training.classifier import materialize, predict


def test_shipped_classifier_is_small_and_documented():
    assert SYNTHETIC_CLASSIFIER.stat().st_size <= 5 * 1024 * 1024
    info = manifest(SYNTHETIC_CLASSIFIER)
    assert info["command"].startswith("captum-explainer train-classifier")
    assert info["seed"] == 0 and info["package_version"]


def test_shipped_classifier_reaches_map_095_on_fresh_images():
    model = synthetic_classifier()
    assert isinstance(model, SmallCNN) and not model.training
    # A split and seed the training never saw.
    fresh = materialize(SyntheticScenes(600, seed=2024, split="test"))
    scores, labels = predict(model, DataLoader(fresh, batch_size=200), torch.device("cpu"))
    assert mean_average_precision(scores, labels) >= 0.95


def test_builder_loads_the_same_weights():
    a, b = small_cnn(weights="synthetic"), synthetic_classifier()
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_builder_refuses_weights_of_another_shape():
    with pytest.raises(
        ValueError, match="hold a small_cnn with 8 classes, expected a small_cnn with 5"
    ):
        small_cnn(weights="synthetic", num_classes=5)
