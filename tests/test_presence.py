"""The ResNet Explainer's optional presence logits: off by default; when asked for, started
from the classifier's head and added to every pixel's class logit; checkpoints with and
without them load as they were written."""

from __future__ import annotations

import torch
import torchvision

from captum_explainer.checkpoint import save_checkpoint
from captum_explainer.models.explainer_nets import ResNetExplainer, init_encoder_from
from captum_explainer.models.loading import load_explainer


def test_presence_starts_as_the_classifiers_logits_and_shifts_each_class_map():
    torch.manual_seed(0)
    classifier = torchvision.models.resnet18(weights=None, num_classes=5).eval()
    explainer = ResNetExplainer(5, presence=True).eval()
    assert init_encoder_from(explainer, classifier)
    assert torch.equal(explainer.presence.weight, classifier.fc.weight)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.nn.init.zeros_(explainer.head[-1].weight)
        torch.nn.init.zeros_(explainer.head[-1].bias)
        masks = explainer(x)
        # With a zero spatial head, every pixel of class k holds the classifier's logit k.
        assert torch.allclose(masks, classifier(x)[:, :, None, None].expand_as(masks), atol=1e-4)


def test_presence_is_off_by_default_and_checkpoints_load_as_written(tmp_path):
    assert ResNetExplainer(3).presence is None
    for presence in (True, False):
        network = ResNetExplainer(3, presence=presence)
        path = save_checkpoint(
            {
                "arch": "resnet18_fpn",
                "num_classes": 3,
                "arch_kwargs": network.builder_kwargs,
                "state_dict": network.state_dict(),
            },
            tmp_path / f"{presence}.pt",
            kind="explainer",
        )
        loaded, _ = load_explainer(path)
        assert (loaded.presence is not None) is presence
    # 0.3 wrote no "presence" entry, and had none.
    old = ResNetExplainer(3)
    kwargs = {k: v for k, v in old.builder_kwargs.items() if k != "presence"}
    path = save_checkpoint(
        {"arch": "resnet18_fpn", "num_classes": 3, "arch_kwargs": kwargs,
         "state_dict": old.state_dict()},
        tmp_path / "old.pt",
        kind="explainer",
    )  # fmt: skip
    loaded, _ = load_explainer(path)
    assert loaded.presence is None
