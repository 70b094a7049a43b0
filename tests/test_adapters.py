"""Models whose output is not a logits tensor (Hugging Face and the like): read by every
method and by Explainer training, and wrapped for anything else by ``logits_of``."""

import json
import sys
import types

import numpy as np
import pytest
import torch
from captum.attr import IntegratedGradients
from PIL import Image
from torch import nn

from captum_explainer import RISE, GradCAM, fit_explainer
from captum_explainer.attr.gradcam import TokenLayer, token_grid
from captum_explainer.cli import main
from captum_explainer.data import SyntheticScenes
from captum_explainer.models import SmallCNN, logits_of, output_logits


class HFLikeOutput:
    """What a Hugging Face classifier returns: an object holding ``.logits`` (and more)."""

    def __init__(self, logits, hidden):
        self.logits, self.hidden_states = logits, hidden


class HFLike(nn.Module):
    def __init__(self, in_channels=3, num_classes=3):
        super().__init__()
        self.backbone = SmallCNN(num_classes=num_classes, in_channels=in_channels, width=4)

    def forward(self, pixel_values):
        return HFLikeOutput(self.backbone(pixel_values), pixel_values.mean())


def test_the_logits_are_found_in_every_known_place():
    logits = torch.randn(2, 3)
    for output in (logits, {"logits": logits}, (logits, 1.0), [logits], HFLikeOutput(logits, 0)):
        assert output_logits(output) is logits
    for other in ({"scores": logits}, "text", (1.0, logits)):
        assert output_logits(other) is other  # left for the caller's check to name


def test_logits_of_serves_captums_own_methods_and_shares_the_model():
    torch.manual_seed(0)
    model = HFLike().eval()
    wrapped = logits_of(model)
    assert logits_of(wrapped) is wrapped and wrapped.model is model
    x = torch.randn(2, 3, 16, 16)
    got = IntegratedGradients(wrapped).attribute(x, target=1, n_steps=8)
    expected = IntegratedGradients(model.backbone).attribute(x, target=1, n_steps=8)
    assert torch.allclose(got, expected)
    wrapped.train()
    assert model.training
    with pytest.raises(TypeError, match="model must be an nn.Module, got function"):
        logits_of(lambda x: x)


def test_the_packages_methods_take_the_model_as_it_is():
    torch.manual_seed(0)
    model = HFLike().eval()
    x = torch.randn(2, 3, 16, 16)
    rise = RISE(model, score="sigmoid").attribute(x, target=2, n_masks=16, seed=0)
    plain = RISE(model.backbone, score="sigmoid").attribute(x, target=2, n_masks=16, seed=0)
    assert torch.equal(rise, plain)
    # Grad-CAM finds the last spatial layer inside it.
    assert GradCAM(model).attribute(x, target=0).shape == (2, 1, 16, 16)


def test_fit_explainer_trains_for_a_model_with_an_output_object(tmp_path):
    torch.manual_seed(0)
    items = [(torch.randn(3, 16, 16), torch.tensor([1.0, float(i % 2), 0.0])) for i in range(8)]
    explainer = fit_explainer(
        HFLike(), items, tmp_path / "run", epochs=1, batch_size=4, progress=False
    )
    masks = explainer.attribute(items[0][0][None], target=None)  # reads the classifier too
    assert masks.shape == (1, 1, 16, 16) and torch.isfinite(masks).all()


def _tiny_vit(transformers, **config):
    """A randomly initialised Hugging Face ViT for 32 x 32 images (4 x 4 patches of 8)."""
    sizes = dict(image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=1)
    sizes.update(num_attention_heads=2, intermediate_size=32)
    vit_config = transformers.ViTConfig(**{**sizes, **config})
    return transformers.ViTForImageClassification(vit_config).eval()


def test_a_hugging_face_vit_built_from_a_config(tmp_path):
    transformers = pytest.importorskip("transformers", reason="the Hugging Face check needs it")
    torch.manual_seed(0)
    vit = _tiny_vit(transformers, num_labels=8)  # the synthetic world's classes
    x = torch.randn(2, 3, 32, 32)
    rise = RISE(vit, score="sigmoid").attribute(x, target=1, n_masks=16, seed=0)
    assert rise.shape == (2, 1, 32, 32) and torch.isfinite(rise).all()
    ig = IntegratedGradients(logits_of(vit)).attribute(x, target=1, n_steps=4)
    assert ig.shape == x.shape
    explainer = fit_explainer(
        vit, _synthetic_items(), tmp_path / "run", epochs=1, batch_size=2, progress=False
    )
    assert explainer.attribute(x, target=None).shape == (2, 1, 32, 32)


def _synthetic_items(n=4, size=32):
    """(image, multi-hot labels) items of the synthetic world (8 classes)."""
    scenes = SyntheticScenes(n, image_size=size, seed=3, split="val")
    return [(scenes[i][0], scenes[i][1]) for i in range(n)]


def test_fit_explainer_for_a_timm_convnet_on_the_synthetic_world(tmp_path):
    timm = pytest.importorskip("timm", reason="the timm check needs it")
    torch.manual_seed(0)
    convnext = timm.create_model("convnext_atto", pretrained=False, num_classes=8).eval()
    scenes = SyntheticScenes(4, image_size=32, seed=3, split="val")
    items = [(scenes[i][0], scenes[i][1]) for i in range(4)]
    explainer = fit_explainer(
        convnext, items, tmp_path / "run", epochs=1, batch_size=2, progress=False
    )
    masks = explainer.attribute(items[0][0][None], target=None)
    assert masks.shape == (1, 1, 32, 32) and torch.isfinite(masks).all()


class _PreNormViT(nn.Module):
    """A vision transformer as torchvision, Hugging Face and timm write them: patch tokens
    after a class token and ``registers`` register tokens, pre-norm blocks, a final norm."""

    def __init__(self, registers=0, depth=2, dim=16, num_classes=3):
        super().__init__()
        self.patches = nn.Conv2d(3, dim, 8, stride=8)
        self.extra = nn.Parameter(torch.randn(1, 1 + registers, dim))
        self.blocks = nn.ModuleList(
            nn.ModuleDict(
                dict(
                    norm1=nn.LayerNorm(dim),
                    attn=nn.MultiheadAttention(dim, 2, batch_first=True),
                    norm2=nn.LayerNorm(dim),
                    mlp=nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim)),
                )
            )
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        tokens = self.patches(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.extra.expand(len(x), -1, -1), tokens], 1)
        for block in self.blocks:
            h = block["norm1"](tokens)
            tokens = tokens + block["attn"](h, h, h, need_weights=False)[0]
            tokens = tokens + block["mlp"](block["norm2"](tokens))
        return self.head(self.norm(tokens)[:, 0])


@pytest.mark.parametrize("registers", [0, 4])
def test_gradcam_reads_a_vision_transformers_last_block_on_its_patch_grid(registers):
    torch.manual_seed(0)
    vit = _PreNormViT(registers).eval()
    x = torch.randn(2, 3, 32, 32)
    gradcam = GradCAM(vit)
    maps = gradcam.attribute(x, target=1, relu_attributions=False)
    # Not the patch embedding (the only 4-D output), but the last block's first norm.
    assert isinstance(gradcam.layer, TokenLayer) and gradcam.layer.module is vit.blocks[-1]["norm1"]
    assert maps.shape == (2, 1, 32, 32) and maps.abs().sum() > 0
    tokens = torch.arange(2 * (1 + registers + 16) * 3.0).reshape(2, 1 + registers + 16, 3)
    grid = token_grid(tokens)  # the class and register tokens dropped
    assert grid.shape == (2, 3, 4, 4) and torch.equal(grid[:, :, 0, 0], tokens[:, 1 + registers])


def test_gradcam_finds_the_layer_of_hugging_face_vit_and_swin():
    transformers = pytest.importorskip("transformers", reason="the Hugging Face check needs it")
    torch.manual_seed(0)
    vit = _tiny_vit(transformers, num_labels=3, num_hidden_layers=2)
    swin = transformers.SwinForImageClassification(
        transformers.SwinConfig(
            num_labels=3,
            image_size=32,
            patch_size=4,
            embed_dim=8,
            depths=[1, 1],
            num_heads=[1, 2],
            window_size=4,
        )
    ).eval()
    x = torch.randn(2, 3, 32, 32)
    for model in (vit, swin):
        # The last block's first norm, wherever this transformers version nests it.
        expected = [m for n, m in model.named_modules() if n.endswith("layernorm_before")][-1]
        gradcam = GradCAM(model)
        maps = gradcam.attribute(x, target=1, relu_attributions=False)
        assert gradcam.layer.module is expected, type(model).__name__
        assert maps.shape == (2, 1, 32, 32) and torch.isfinite(maps).all()


def test_gradcam_and_rise_on_timm_models():
    timm = pytest.importorskip("timm", reason="the timm check needs it")
    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 64)
    vit = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=3, img_size=64)
    convnext = timm.create_model("convnext_atto", pretrained=False, num_classes=3)
    for model, expected in ((vit.eval(), vit.blocks[-1].norm1), (convnext.eval(), None)):
        gradcam = GradCAM(model)
        maps = gradcam.attribute(x, target=1, relu_attributions=False)
        assert maps.shape == (2, 1, 64, 64) and torch.isfinite(maps).all()
        if expected is not None:
            assert isinstance(gradcam.layer, TokenLayer) and gradcam.layer.module is expected
        else:  # a ConvNet: its last spatial output
            assert not isinstance(gradcam.layer, TokenLayer)
        rise = RISE(model, score="softmax").attribute(x, target=1, n_masks=8, seed=0)
        assert rise.shape == (2, 1, 64, 64)


def _image_folder(root, n=4, size=32):
    """Class folders ``a``/``b`` of RGB images (a class folder is also data for training)."""
    for i in range(n):
        folder = root / ("a" if i % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.random.default_rng(i).integers(0, 255, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


def _explain(tmp_path, *model_args):
    images = _image_folder(tmp_path / "images")
    out = tmp_path / "maps"
    argv = ["explain", str(images), "--recursive", "--method", "gradcam", "--out", str(out)]
    assert main([*argv, "--no-progress", *model_args]) == 0
    return sorted(p.name for p in out.rglob("*.npy"))


def test_the_command_line_builds_a_model_from_an_import_path_with_keyword_arguments(
    tmp_path, monkeypatch
):
    built = []

    def build(width=8, in_channels=3):
        built.append(width)
        return SmallCNN(num_classes=2, in_channels=in_channels, width=width)

    monkeypatch.setitem(sys.modules, "user_models", types.SimpleNamespace(build=build))
    args = ["--model", "user_models:build", "--model-kwargs", "width=4", "--classes", "a", "b"]
    assert len(_explain(tmp_path, *args, "--image-size", "32")) == 4
    assert built == [4]
    with pytest.raises(SystemExit):  # argparse: exit 2 on a missing value
        main(["explain", "x.png", "--model", "user_models:build", "--model-kwargs"])
    code = main(["explain", "x.png", "--model", "user_models:build", "--model-kwargs", "4"])
    assert code == 2


def test_the_command_line_builds_timm_models_with_their_size_and_classes(tmp_path):
    pytest.importorskip("timm", reason="the timm check needs it")
    for name in ("vit_tiny_patch16_224", "convnext_atto"):
        args = ["--model", f"timm:{name}", "--num-classes", "2", "--classes", "a", "b"]
        assert len(_explain(tmp_path / name, *args, "--image-size", "32")) == 4, name
    assert main(["explain", "x.png", "--model", "timm:no_such_net", "--num-classes", "2"]) == 2


def test_the_command_line_reads_a_hugging_face_folder_offline_and_trains_for_it(tmp_path):
    transformers = pytest.importorskip("transformers", reason="the Hugging Face check needs it")
    torch.manual_seed(0)
    vit = _tiny_vit(
        transformers, num_labels=2, id2label={0: "a", 1: "b"}, label2id={"a": 0, "b": 1}
    )
    folder = tmp_path / "vit"
    vit.save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(
        json.dumps({"image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]})
    )
    assert len(_explain(tmp_path, "--model", f"hf:{folder}")) == 4  # classes, size from files
    run = tmp_path / "explainer"
    argv = ["train-explainer", "--model", f"hf:{folder}", "--data", str(tmp_path / "images")]
    argv += ["--epochs", "1", "--batch-size", "2", "--val-fraction", "0.5", "--no-progress"]
    assert main([*argv, "--out", str(run)]) == 0
    assert (run / "best.pt").is_file()
    assert main(["explain", "x.png", "--model", f"hf:{tmp_path}"]) == 2  # no config.json
