import pytest
import torch
from torch import nn

from captum_explainer import ExplainerAttribution
from captum_explainer.models import SmallCNN, SmallExplainer, deeplabv3_explainer


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    return SmallExplainer(num_classes=8).eval(), SmallCNN(num_classes=8).eval()


def test_target_mask_is_the_sigmoid_of_the_class_channel(nets):
    explainer, classifier = nets
    x = torch.randn(3, 3, 32, 32)
    method = ExplainerAttribution(explainer, classifier)
    masks = method.attribute(x, target=[0, 4, 7])
    with torch.no_grad():
        logits = explainer(x)
    assert masks.shape == (3, 1, 32, 32) and not masks.requires_grad
    assert torch.allclose(masks[:, 0], torch.sigmoid(logits[[0, 1, 2], [0, 4, 7]]))
    every = method.attribute_all_classes(x)
    assert every.shape == (3, 8, 32, 32) and every.min() >= 0 and every.max() <= 1


def test_merged_mask_of_a_class_set(nets):
    explainer, classifier = nets
    x = torch.randn(2, 3, 32, 32)
    method = ExplainerAttribution(explainer, classifier)
    classes = torch.tensor([[1, 0, 1, 0, 0, 0, 0, 0], [0] * 8])
    merged = method.attribute_classes(x, classes)
    every = method.attribute_all_classes(x)
    assert torch.allclose(merged[0, 0], torch.maximum(every[0, 0], every[0, 2]))
    assert torch.all(merged[1] == 0)
    with pytest.raises(ValueError, match="classes must be multi-hot"):
        method.attribute_classes(x, torch.ones(2, 5))


def test_target_none_explains_the_predicted_classes(nets):
    explainer, classifier = nets
    x = torch.randn(2, 3, 32, 32)
    method = ExplainerAttribution(explainer, classifier)
    with torch.no_grad():
        logits = classifier(x)
    predicted = logits >= 0
    top1 = torch.zeros_like(predicted).scatter_(1, logits.argmax(1, keepdim=True), True)
    expected_classes = torch.where(predicted.any(1, keepdim=True), predicted, top1)
    assert torch.equal(method.predicted_classes((x,)), expected_classes)
    assert torch.allclose(method.attribute(x), method.attribute_classes(x, expected_classes))
    with pytest.raises(ValueError, match="needs the classifier"):
        ExplainerAttribution(explainer).attribute(x)


def test_wrong_output_shapes_are_named():
    x = torch.randn(2, 3, 16, 16)
    flat = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 8))
    with pytest.raises(
        ValueError,
        match=r"maps \(2, K, 16, 16\) \(one per class, at the input.s resolution\), got \(2, 8\)",
    ):
        ExplainerAttribution(flat).attribute(x, target=0)
    explainer = SmallExplainer(num_classes=5).eval()
    with pytest.raises(ValueError, match="classifier has 8 classes but the Explainer gives 5"):
        ExplainerAttribution(explainer, SmallCNN(num_classes=8).eval()).attribute(x)


def test_the_papers_network_gives_k_masks_at_the_input_size():
    net = deeplabv3_explainer(num_classes=4).eval()
    with torch.no_grad():
        out = net(torch.randn(1, 3, 40, 56))
    assert out.shape == (1, 4, 40, 56)


def test_small_explainer_starts_from_the_classifier():
    classifier = SmallCNN()
    explainer = SmallExplainer().init_from_classifier(classifier)
    assert torch.equal(explainer.encoder.block6[0].weight, classifier.features.block6[0].weight)
    # Sides that are not multiples of 8 are padded inside and cropped back.
    assert explainer.eval()(torch.randn(1, 3, 30, 30)).shape == (1, 8, 30, 30)


def test_logits_give_the_masks_order_without_the_saturated_ties():
    torch.manual_seed(0)
    network = nn.Conv2d(3, 8, 1).eval()
    with torch.no_grad():
        network.weight.mul_(40)  # logits far beyond float32's saturated sigmoid
    explainer = ExplainerAttribution(network)
    x = torch.randn(2, 3, 16, 16)
    masks = explainer.attribute(x, target=1)
    logits = explainer.attribute(x, target=1, output="logits")
    assert torch.equal(torch.sigmoid(logits), masks)
    assert masks.unique().numel() < logits.unique().numel()  # ties among the masks only
    every = explainer.attribute_all_classes(x, output="logits")
    assert torch.equal(every[:, 1:2], logits)
    with pytest.raises(ValueError, match=r"output must be one of \['mask', 'logits'\]"):
        explainer.attribute(x, target=1, output="probabilities")
