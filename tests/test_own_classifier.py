"""Bring your own classifier and data: every model form, every data form, both tasks,
1- and 3-channel images of odd sizes, and Grad-CAM on torchvision models including a ViT."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torch import nn

from captum_explainer import ExplainerAttribution, GradCAM, fit_explainer
from captum_explainer.attr import RISE, FGVis, IntegratedGradients, UndesirablePixels
from captum_explainer.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from captum_explainer.cli import main
from captum_explainer.data import IMAGENET_NORMALIZATION, Normalization
from captum_explainer.data.user_images import ImageFolderData, ImageListData, open_image_data
from captum_explainer.explainer.loss import check_labels, classification_loss
from captum_explainer.models.explainer_nets import ResNetExplainer, init_encoder_from_file
from captum_explainer.models.pretrained import SYNTHETIC_CLASSIFIER
from captum_explainer.models.user import OwnClassifier, load_model
from captum_explainer.training.user_data import LabelledItems

GRAY = Normalization((0.5,), (0.25,))
RGB = Normalization((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))


def _write_folder(root, classes=("dark", "bright"), per_class=6, size=(28, 28), mode="L"):
    rng = np.random.default_rng(0)
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            shape = size if mode == "L" else (*size, 3)
            pixels = rng.integers(0, 100, shape) + 150 * c
            Image.fromarray(pixels.astype(np.uint8), mode).save(root / name / f"{i}.png")
    return root


def _tiny_gray_cnn(num_classes=2):
    """A 1-channel 28 x 28 single-label model, as a user might bring one."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, num_classes),
    )


# --- models ---------------------------------------------------------------------------


def test_torchvision_model_by_name_with_a_weights_file(tmp_path):
    net = torchvision.models.resnet18(weights=None, num_classes=4)
    torch.save(net.state_dict(), tmp_path / "w.pt")
    loaded, stored = load_model("torchvision:resnet18", tmp_path / "w.pt", num_classes=4)
    assert stored == {} and not loaded.training
    assert torch.equal(loaded.fc.weight, net.fc.weight)
    with pytest.raises(ValueError, match="needs --num-classes"):
        load_model("torchvision:resnet18", tmp_path / "w.pt")
    with pytest.raises(ValueError, match="no classification model 'resnet_nine'"):
        load_model("torchvision:resnet_nine", tmp_path / "w.pt", num_classes=4)
    with pytest.raises(Exception, match="fc.weight"):  # a head of the wrong size
        load_model("torchvision:resnet18", tmp_path / "w.pt", num_classes=5)


def test_model_from_an_import_path(tmp_path, monkeypatch):
    (tmp_path / "user_models.py").write_text(
        textwrap.dedent(
            """
            from torch import nn
            def build():
                return nn.Sequential(nn.Conv2d(1, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))
            def not_a_model():
                return 42
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    model, _ = load_model("user_models:build")
    assert model(torch.randn(2, 1, 9, 9)).shape == (2, 3)
    torch.save(model.state_dict(), tmp_path / "w.pt")
    again, _ = load_model("user_models:build", tmp_path / "w.pt")
    assert torch.equal(again[0].weight, model[0].weight)
    with pytest.raises(ValueError, match="not an nn.Module"):
        load_model("user_models:not_a_model")
    with pytest.raises(ValueError, match="cannot import 'missing'"):
        load_model("user_models:missing")
    sys.modules.pop("user_models", None)


def test_package_checkpoint_and_the_description():
    model, stored = load_model(str(SYNTHETIC_CLASSIFIER))
    info = OwnClassifier(str(SYNTHETIC_CLASSIFIER)).describe(stored)
    assert info.classes == tuple(stored["classes"]) and info.image_size == 64
    with pytest.raises(ValueError, match="--mean and --std"):
        OwnClassifier("m", classes=["a"], channels=1).describe({})
    with pytest.raises(ValueError, match="classes are not known"):
        OwnClassifier("m").describe({})
    gray = OwnClassifier("m", classes=["a", "b"], mean=[0.5], std=[0.2], task="single-label")
    gray = gray.describe({})
    assert gray.channels == 1 and gray.task == "single-label"


# --- data -----------------------------------------------------------------------------


def test_image_folder_single_label_grayscale(tmp_path):
    data = ImageFolderData(_write_folder(tmp_path / "train"), 20, GRAY, channels=1)
    image, labels, segmentation = data[7]
    assert image.shape == (1, 20, 20) and labels.tolist() == [0.0, 1.0] and segmentation is None
    assert data.classes == ["bright", "dark"][::-1] or data.classes == ["bright", "dark"]
    assert data.task == "single-label"
    with pytest.raises(ValueError, match="not one of the classifier's classes"):
        ImageFolderData(tmp_path / "train", 20, GRAY, channels=1, classes=["dark"])


def test_image_listing_csv_and_json_with_masks(tmp_path):
    for i in range(3):
        Image.fromarray(np.full((10, 12, 3), 40 * i, np.uint8)).save(tmp_path / f"img{i}.png")
    masks = tmp_path / "masks"
    masks.mkdir()
    mask = np.zeros((10, 12), np.uint8)
    mask[2:5, 3:6] = 2
    Image.fromarray(mask).save(masks / "img0.png")
    (tmp_path / "list.csv").write_text("path,labels\nimg0.png,cat;dog\nimg1.png,dog\nimg2.png,\n")
    data = ImageListData(tmp_path / "list.csv", 16, RGB, classes=["cat", "dog"], masks=masks)
    image, labels, segmentation = data[0]
    assert image.shape == (3, 16, 16) and labels.tolist() == [1.0, 1.0]
    assert segmentation.shape == (16, 16) and set(segmentation.unique().tolist()) == {0, 2}
    assert data[1][2] is None and data[2][1].sum() == 0
    entries = [{"path": "img1.png", "labels": ["dog"]}]
    (tmp_path / "list.json").write_text(json.dumps(entries))
    assert open_image_data(tmp_path / "list.json", 16, RGB).classes == ["dog"]


def test_bad_data_names_the_file(tmp_path):
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(tmp_path / "ok.png")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    (tmp_path / "a.csv").write_text("path,labels\nok.png,cat\nbroken.png,cat\n")
    data = ImageListData(tmp_path / "a.csv", 16, RGB, strict=True)
    with pytest.raises(ValueError, match="cannot read image .*broken.png"):
        data[1]
    with pytest.warns(UserWarning, match="1 of 2 image files"):
        skipping = ImageListData(tmp_path / "a.csv", 16, RGB)
    assert len(skipping) == 1 and skipping.skipped[0][0].name == "broken.png"
    (tmp_path / "b.csv").write_text("path,labels\nok.png,cat\nok.png,zebra\n")
    with pytest.raises(ValueError, match=r"b.csv, line 3: unknown label 'zebra'"):
        ImageListData(tmp_path / "b.csv", 16, RGB, classes=["cat"])
    masks = tmp_path / "masks"
    masks.mkdir()
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(masks / "ok.png")
    with pytest.raises(ValueError, match="mask .*ok.png.* is 5 x 5 but its image is 12 x 10"):
        ImageListData(tmp_path / "a.csv", 16, RGB, masks=masks)[0]
    Image.fromarray(np.full((10, 12), 9, np.uint8)).save(masks / "ok.png")
    with pytest.raises(ValueError, match="holds value 9"):
        ImageListData(tmp_path / "a.csv", 16, RGB, masks=masks)[0]
    (tmp_path / "c.csv").write_text("file,label\nok.png,cat\n")
    with pytest.raises(ValueError, match="must name the columns 'path' and 'labels'"):
        ImageListData(tmp_path / "c.csv", 16, RGB)


# --- training: both tasks, one call -----------------------------------------------------


def test_fit_explainer_single_label_grayscale_folder(tmp_path):
    """The 1-channel 28 x 28 single-label model: folder data, odd size, one call."""
    torch.manual_seed(0)
    classifier = _tiny_gray_cnn().eval()
    flags = [p.requires_grad for p in classifier.parameters()]
    explainer = fit_explainer(
        classifier,
        _write_folder(tmp_path / "train"),
        tmp_path / "run",
        normalization=GRAY,
        image_size=27,
        epochs=1,
        batch_size=4,
        progress=False,
    )
    assert isinstance(explainer, ExplainerAttribution)
    maps = explainer.attribute(torch.randn(3, 1, 27, 27), target=[0, 1, 1])
    assert maps.shape == (3, 1, 27, 27) and maps.min() >= 0 and maps.max() <= 1
    # target=None explains the softmax classifier's top-1 class, not every logit >= 0.
    x = torch.randn(3, 1, 27, 27)
    assert explainer.task == "single-label"
    top1 = classifier(x).argmax(1)
    assert torch.equal(explainer.attribute(x), explainer.attribute(x, target=top1))
    with pytest.raises(ValueError, match="task must be one of"):
        ExplainerAttribution(explainer.explainer, classifier, task="softmax")
    stored = load_checkpoint(tmp_path / "run" / "best.pt", kind="explainer")
    assert stored["task"] == "single-label" and stored["classes"] == ["bright", "dark"]
    assert stored["arch_kwargs"]["in_channels"] == 1
    assert [p.requires_grad for p in classifier.parameters()] == flags and not classifier.training


def test_fit_explainer_multilabel_dataset_of_tensors(tmp_path):
    """A dataset object of (image, multi-hot) items, 3 channels, 30 x 22 images."""
    torch.manual_seed(0)
    items = [(torch.randn(3, 30, 22), torch.tensor([1.0, float(i % 2), 0.0])) for i in range(10)]
    classifier = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)
    )
    explainer = fit_explainer(
        classifier, items, tmp_path / "run", epochs=1, batch_size=4, progress=False
    )
    assert explainer.attribute(items[0][0][None], target=2).shape == (1, 1, 30, 22)
    stored = load_checkpoint(tmp_path / "run" / "best.pt", kind="explainer")
    assert stored["task"] == "multilabel" and stored["classes"] == ["0", "1", "2"]


def test_labelled_items_accept_class_indices_and_refuse_images():
    items = LabelledItems([(torch.zeros(1, 4, 4), 2), (torch.zeros(1, 4, 4), torch.tensor(0))], 3)
    assert items[0][1].tolist() == [0.0, 0.0, 1.0] and items[1][1].tolist() == [1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="not a class index in 0 ... 2"):
        LabelledItems([(torch.zeros(1, 4, 4), 5)], 3)[0]
    with pytest.raises(ValueError, match="not a tensor"):
        LabelledItems([(Image.new("L", (4, 4)), 0)], 3)[0]


def test_single_label_loss_is_cross_entropy_on_the_label():
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    labels = torch.tensor([[1.0, 0.0, 0.0]])
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor([0]))
    assert torch.isclose(classification_loss(logits, labels, "single-label"), expected)
    with pytest.raises(ValueError, match="exactly one label"):
        check_labels(torch.tensor([[1.0, 1.0, 0.0]]), "single-label")


def _train_resnet18_explainer(tmp_path, *options: str) -> int:
    """``train-explainer`` for a torchvision ResNet-18 (2 classes) on a small image folder."""
    net = torchvision.models.resnet18(weights=None, num_classes=2)
    torch.save(net.state_dict(), tmp_path / "r18.pt")
    folder = _write_folder(tmp_path / "train", per_class=4, size=(36, 40), mode="RGB")
    return main(
        [
            "train-explainer", "--out", str(tmp_path / "run"), "--model", "torchvision:resnet18",
            "--weights", str(tmp_path / "r18.pt"), "--num-classes", "2", "--data", str(folder),
            "--image-size", "36", "--epochs", "1", "--batch-size", "4", "--arch", "resnet18_fpn",
            "--no-progress", *options,
        ]
    )  # fmt: skip


def test_train_explainer_command_with_a_torchvision_model(tmp_path, capsys):
    code = _train_resnet18_explainer(tmp_path)
    assert code == 0, capsys.readouterr().err
    stored = load_checkpoint(tmp_path / "run" / "best.pt", kind="explainer")
    assert stored["task"] == "single-label" and stored["encoder_from_classifier"] is True
    assert stored["classifier"] == "torchvision:resnet18"
    code = main(
        ["train-explainer", "--out", str(tmp_path / "x"), "--model", "torchvision:resnet18"]
    )
    assert code == 2 and "needs --data" in capsys.readouterr().err


def test_the_encoder_starts_from_a_weights_file(tmp_path, capsys):
    # A donor ResNet-18 (not the classifier) saved two ways: a plain state_dict, and a
    # package classifier checkpoint holding one.
    torch.manual_seed(3)
    donor = torchvision.models.resnet18(weights=None, num_classes=5)
    torch.save(donor.state_dict(), tmp_path / "plain.pt")
    save_checkpoint({"state_dict": donor.state_dict()}, tmp_path / "ckpt.pt", kind="classifier")
    for name in ("plain.pt", "ckpt.pt"):
        explainer = ResNetExplainer(2)
        init_encoder_from_file(explainer, tmp_path / name)
        ours = explainer.encoder.state_dict()
        assert ours and all(torch.equal(ours[k], donor.state_dict()[k]) for k in ours)
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), tmp_path / "r34.pt")
    with pytest.raises(CheckpointError, match="r34.pt.*do not fit ResNet"):
        init_encoder_from_file(ResNetExplainer(2), tmp_path / "r34.pt")
    with pytest.raises(FileNotFoundError, match="encoder weights .*nowhere.pt"):
        init_encoder_from_file(ResNetExplainer(2), tmp_path / "nowhere.pt")

    # Through the command: a torchvision classifier, the encoder from the donor's file.
    code = _train_resnet18_explainer(tmp_path, "--encoder-weights", str(tmp_path / "plain.pt"))
    assert code == 0, capsys.readouterr().err
    stored = load_checkpoint(tmp_path / "run" / "best.pt", kind="explainer")
    assert stored["encoder_from"] == str(tmp_path / "plain.pt")
    assert "encoder_from_classifier" not in stored


def test_the_presence_logits_are_opt_in(tmp_path, capsys):
    code = _train_resnet18_explainer(tmp_path)
    assert code == 0, capsys.readouterr().err
    stored = load_checkpoint(tmp_path / "run" / "best.pt", kind="explainer")
    assert stored["arch_kwargs"]["presence"] is False
    assert not any(key.startswith("presence.") for key in stored["state_dict"])
    (tmp_path / "with").mkdir()
    code = _train_resnet18_explainer(tmp_path / "with", "--presence")
    assert code == 0, capsys.readouterr().err
    stored = load_checkpoint(tmp_path / "with" / "run" / "best.pt", kind="explainer")
    assert stored["arch_kwargs"]["presence"] is True
    assert any(key.startswith("presence.") for key in stored["state_dict"])
    code = main(
        ["train-explainer", "--out", str(tmp_path / "x"), "--arch", "small_explainer",
         "--no-presence", "--epochs", "1"]
    )  # fmt: skip
    assert code == 2 and "--no-presence applies to --arch resnet18_fpn" in capsys.readouterr().err


# --- Grad-CAM's layer, and the other methods, on torchvision models -----------------------


@pytest.mark.parametrize("name", ["resnet18", "vgg11"])
def test_gradcam_finds_the_last_spatial_layer(name):
    model = torchvision.models.get_model(name, weights=None, num_classes=3).eval()
    gradcam = GradCAM(model)
    maps = gradcam.attribute(torch.randn(2, 3, 64, 64), target=[0, 2])
    assert maps.shape == (2, 1, 64, 64)
    assert gradcam.layer is (model.layer4 if name == "resnet18" else model.features)
    assert all(not m._forward_hooks for m in model.modules())


def test_gradcam_and_other_methods_on_a_vision_transformer():
    torch.manual_seed(0)
    vit = torchvision.models.vit_b_16(weights=None, num_classes=3, image_size=32).eval()
    nn.init.normal_(vit.heads.head.weight, std=0.1)  # torchvision starts the head at zero
    x = torch.randn(2, 3, 32, 32)
    gradcam = GradCAM(vit)
    maps = gradcam.attribute(x, target=[0, 1], relu_attributions=False)
    assert maps.shape == (2, 1, 32, 32) and maps.abs().sum() > 0
    # The two images' maps differ: the grid comes from each image's own tokens.
    assert not torch.allclose(maps[0], maps[1])
    assert RISE(vit).attribute(x, target=0, n_masks=8).shape == (2, 1, 32, 32)
    assert IntegratedGradients(vit).attribute(x, target=1, n_steps=2).shape == x.shape
    fgvis = FGVis(vit, normalization=IMAGENET_NORMALIZATION, score="softmax")
    assert fgvis.attribute(x, target=0, n_iter=3).shape == x.shape
    undesirable = UndesirablePixels(vit, score="softmax")
    assert undesirable.attribute(x, target=1, n_masks=8).shape == (2, 1, 32, 32)
    with pytest.raises(ValueError, match="forward_func is a function"):
        GradCAM(lambda images: vit(images))
    flat = nn.Sequential(nn.Flatten(), nn.Linear(12, 2))
    with pytest.raises(ValueError, match="no layer of Sequential gives a spatial output"):
        GradCAM(flat).attribute(torch.randn(1, 3, 2, 2), target=0)


@pytest.mark.slow
def test_own_classifier_training_under_torchrun(tmp_path):
    """`train-explainer --model ... --data ...` on two processes: rank 0 alone writes."""
    (tmp_path / "user_net.py").write_text(
        "from torch import nn\n"
        "def build():\n"
        "    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),\n"
        "                         nn.Flatten(), nn.Linear(4, 2))\n"
    )
    folder = _write_folder(tmp_path / "train", per_class=6, size=(20, 20))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    result = subprocess.run(
        [
            sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
            "-m", "captum_explainer", "train-explainer", "--out", str(tmp_path / "run"),
            "--model", "user_net:build", "--data", str(folder), "--mean", "0.5", "--std", "0.25",
            "--image-size", "20", "--epochs", "1", "--batch-size", "2", "--no-progress",
        ],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert {p.name for p in (tmp_path / "run").iterdir()} == {"best.pt", "last.pt", "log.csv"}
    assert load_checkpoint(tmp_path / "run" / "best.pt", kind="explainer")["task"] == "single-label"
