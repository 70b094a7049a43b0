import pytest
import torch
import torchvision

from captum_explainer.checkpoint import CheckpointError
from captum_explainer.models import (
    SmallCNN,
    build_classifier,
    resnet50_multilabel,
    small_cnn,
    vgg16_multilabel,
)


def test_small_cnn_shapes_and_target_layer():
    model = SmallCNN(num_classes=5)
    out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 5)
    seen = {}

    def record(module, inputs, output):
        seen["shape"] = output.shape

    handle = model.target_layer.register_forward_hook(record)
    model(torch.randn(1, 3, 64, 64))
    handle.remove()
    assert seen["shape"] == (1, 128, 8, 8)
    assert sum(p.numel() for p in model.parameters()) < 400_000


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.randn(3, 64, 64), r"\(N, 3, H, W\)"),
        (torch.randn(1, 1, 64, 64), r"\(N, 3, H, W\)"),
        (torch.randn(1, 3, 4, 4), "at least 8 x 8"),
    ],
)
def test_small_cnn_rejects_bad_images(bad, message):
    with pytest.raises(ValueError, match=message):
        SmallCNN()(bad)


@pytest.mark.parametrize(
    "builder, head", [(vgg16_multilabel, "classifier"), (resnet50_multilabel, "fc")]
)
def test_torchvision_heads_freeze_features_and_train_the_head(builder, head):
    model = builder(num_classes=20, weights=None).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 20)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(name.startswith(head) for name in trainable)
    assert model.target_layer is not None


def test_backbone_weights_from_a_local_file(tmp_path):
    reference = torchvision.models.resnet50(weights=None)
    path = tmp_path / "resnet50.pth"
    torch.save(reference.state_dict(), path)
    model = resnet50_multilabel(num_classes=3, weights=path)
    assert torch.equal(model.conv1.weight, reference.conv1.weight)
    assert model.fc.out_features == 3


def test_backbone_weights_errors(tmp_path):
    with pytest.raises(ValueError, match="ResNet50_Weights member"):
        resnet50_multilabel(weights="IMAGENET_V7")
    wrong = tmp_path / "vgg.pth"
    torch.save(torchvision.models.vgg11(weights=None).state_dict(), wrong)
    with pytest.raises(CheckpointError, match="do not fit VGG"):
        vgg16_multilabel(weights=wrong)


def test_build_classifier_and_small_cnn_builder():
    assert isinstance(build_classifier("small_cnn", 4), SmallCNN)
    with pytest.raises(ValueError, match="arch must be one of"):
        build_classifier("alexnet", 4)
    assert small_cnn().num_classes == 8
