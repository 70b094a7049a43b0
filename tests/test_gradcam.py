import pytest
import torch
from captum.attr import LayerAttribution, LayerGradCam

from captum_explainer import GradCAM
from captum_explainer.models import SmallCNN


def test_equals_captum_layer_gradcam_with_relu_and_bilinear_upsampling():
    torch.manual_seed(0)
    model = SmallCNN().eval()
    x = torch.randn(4, 3, 64, 64)
    ours = GradCAM(model, model.target_layer).attribute(x, target=[0, 3, 5, 7])
    layer_map = LayerGradCam(model, model.target_layer).attribute(
        x, target=[0, 3, 5, 7], relu_attributions=True
    )
    reference = LayerAttribution.interpolate(layer_map, (64, 64), interpolate_mode="bilinear")
    assert ours.shape == (4, 1, 64, 64)
    assert torch.equal(ours, reference)
    assert (ours >= 0).all()


def test_relu_attributions_false_keeps_the_negative_part_as_captum_does():
    torch.manual_seed(0)
    model = SmallCNN().eval()
    x = torch.randn(4, 3, 64, 64)
    ours = GradCAM(model).attribute(x, target=[0, 3, 5, 7], relu_attributions=False)
    layer_map = LayerGradCam(model, model.target_layer).attribute(
        x, target=[0, 3, 5, 7], relu_attributions=False
    )
    reference = LayerAttribution.interpolate(layer_map, (64, 64), interpolate_mode="bilinear")
    assert torch.equal(ours, reference)
    assert (ours < 0).any()  # a random model's maps have a negative part to keep


def test_layer_defaults_to_the_models_target_layer():
    model = SmallCNN().eval()
    assert GradCAM(model).layer is model.target_layer
    # A model without spatial layers: found out on the first batch, with a clear message.
    flat = GradCAM(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2)))
    with pytest.raises(ValueError, match="give layer="):
        flat.attribute(torch.randn(1, 3, 2, 2), target=0)
