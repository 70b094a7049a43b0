"""Amortized methods: a network trained on a teacher's maps, on known answers.

- a teacher whose maps are a fixed function of the image is learned almost exactly;
- a teacher that returns a constant map plus fresh noise on every call is averaged out: the
  network ends far closer to the constant than any one label;
- the command line, the checkpoint, a Captum method as the teacher and the attribution's
  target forms (the conformance harness runs the record like every other method).
"""

from __future__ import annotations

import pytest
import torch
from captum.attr import Occlusion
from PIL import Image
from torch import nn

from captum_explainer import RISE, AmortizedAttribution, SyntheticScenes, fit_amortized
from captum_explainer.amortized import AmortizedTrainingConfig, Teacher, map_correlation
from captum_explainer.amortized.train import train_amortized
from captum_explainer.checkpoint import CheckpointError
from captum_explainer.cli import main
from captum_explainer.data import SYNTHETIC_NORMALIZATION, collate_items
from captum_explainer.evaluation import MethodSpec, method_records
from captum_explainer.models import load_amortized, synthetic_amortized_rise, synthetic_classifier
from captum_explainer.models.pretrained import (
    SYNTHETIC_AMORTIZED_RISE,
    SYNTHETIC_EXPLAINER,
    manifest,
)
from captum_explainer.tasks.demo import run_demo

K = 3


class PixelFunction:
    """A teacher whose class ``k`` map is ``(1 + k) * channel k`` of the image: a fixed,
    learnable function of the image."""

    def attribute_all_classes(self, images: torch.Tensor) -> torch.Tensor:
        return images[:, :K] * torch.arange(1, K + 1, dtype=images.dtype)[None, :, None, None]


class ConstantPlusNoise:
    """Class ``k``'s map is ``k / 2`` everywhere plus Gaussian noise of std 1, fresh for every
    seed: its limit over draws is the constant."""

    def attribute_all_classes(self, images: torch.Tensor, seed: int = 0) -> torch.Tensor:
        n, _, h, w = images.shape
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn(n, K, h, w, generator=generator)
        return torch.arange(K, dtype=images.dtype)[None, :, None, None] / 2 + noise


class Images(torch.utils.data.Dataset):
    """Random smooth images, every one of the ``K`` classes labelled present."""

    def __init__(self, n: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        coarse = torch.rand(n, 3, 8, 8, generator=generator)
        self.images = nn.functional.interpolate(coarse, size=16, mode="bilinear")
        self.labels = torch.ones(n, K)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        return self.images[index], self.labels[index], None


def _train(teacher: Teacher, out, epochs: int, lr: float) -> nn.Module:
    config = AmortizedTrainingConfig(
        out, epochs=epochs, batch_size=16, lr=lr, progress=False, patience=epochs
    )
    history = train_amortized(
        config, teacher, nn.Identity(), Images(256, 0), Images(32, 1), ["a", "b", "c"],
        SYNTHETIC_NORMALIZATION,
    )  # fmt: skip
    assert len(history) == epochs and "val_correlation" in history[-1]
    network, checkpoint = load_amortized(out / "best.pt")
    assert checkpoint["teacher"] == teacher.name
    return network


def test_a_fixed_function_of_the_image_is_learned_almost_exactly(tmp_path):
    teacher = Teacher(MethodSpec("pixels", PixelFunction()))
    network = _train(teacher, tmp_path, epochs=20, lr=1e-2)
    fresh = Images(64, 2)
    with torch.no_grad():
        predicted = network(fresh.images)
    truth = PixelFunction().attribute_all_classes(fresh.images)
    correlation = map_correlation(predicted, truth)
    assert correlation.mean() > 0.97, correlation.mean()
    assert (predicted - truth).pow(2).mean() < 0.05 * truth.var()


def test_fresh_noise_on_every_call_is_averaged_out(tmp_path):
    teacher = Teacher(MethodSpec("noisy constant", ConstantPlusNoise(), {"seed": 0}))
    assert teacher.seeded
    images, labels = Images(2, 5).images, torch.zeros(2, K)
    assert not torch.equal(teacher.maps(images, labels, 1), teacher.maps(images, labels, 2))
    network = _train(teacher, tmp_path, epochs=4, lr=3e-3)
    with torch.no_grad():
        predicted = network(Images(32, 3).images)
    limit = torch.arange(K, dtype=torch.float32)[None, :, None, None] / 2
    error = (predicted - limit).pow(2).mean().sqrt()
    # One label is off by its noise (std 1); the network, trained on them, by far less.
    assert error < 0.15, error


def test_a_captum_method_teaches_through_a_method_spec(tmp_path):
    scenes = SyntheticScenes(12, image_size=32, seed=3)
    items = [scenes[i][:2] for i in range(12)]
    occlusion = MethodSpec(
        "Occlusion",
        Occlusion(synthetic_classifier()),
        {"sliding_window_shapes": (3, 8, 8), "strides": (3, 8, 8)},
        reduction="sum",
    )
    amortized = fit_amortized(
        occlusion, synthetic_classifier(), items, tmp_path, epochs=1, batch_size=4, progress=False
    )
    assert isinstance(amortized, AmortizedAttribution) and amortized.teacher == "Occlusion"
    _, checkpoint = load_amortized(tmp_path / "best.pt")
    assert checkpoint["teacher_kwargs"]["strides"] == "(3, 8, 8)"
    maps = amortized.attribute(items[0][0][None], target=None)  # the classifier's top-1 class
    assert maps.shape == (1, 1, 32, 32)


def test_the_command_trains_resumes_and_records_its_teacher(tmp_path):
    out = tmp_path / "run"
    args = [
        "train-amortized", "--out", str(out), "--teacher", "rise",
        "--teacher-kwargs", "n_masks=8", "--train-size", "8", "--val-size", "4",
        "--image-size", "32", "--batch-size", "4", "--no-progress",
    ]  # fmt: skip
    assert main([*args, "--epochs", "1"]) == 0
    assert main([*args, "--epochs", "2", "--resume"]) == 0
    network, checkpoint = load_amortized(out / "best.pt")
    assert checkpoint["teacher"] == "RISE" and checkpoint["teacher_kwargs"]["n_masks"] == 8
    assert network(torch.rand(1, 3, 32, 32)).shape == (1, 8, 32, 32)
    assert main([*args, "--teacher-kwargs", "n_masks"]) == 2  # not KEY=VALUE

    # The checkpoint serves explain and evaluate as the method amortized-rise.
    image = tmp_path / "photo.png"
    Image.new("RGB", (64, 64), "red").save(image)
    explain = ["explain", str(image), "--method", "amortized-rise", "--out", str(tmp_path / "maps")]
    assert main([*explain, "--amortized", str(out / "best.pt")]) == 0
    assert len(list((tmp_path / "maps").glob("photo_amortized-rise_*.npy"))) == 1
    report = tmp_path / "report"
    evaluate = ["evaluate", "--methods", "amortized-rise", "--n-images", "2", "--out", str(report)]
    assert main([*evaluate, "--amortized", str(out / "best.pt"), "--no-progress"]) == 0
    assert "Amortized RISE" in (report / "results.csv").read_text()


def test_bad_teachers_and_checkpoints_are_named():
    model = synthetic_classifier()
    with pytest.raises(ValueError, match="teacher 'explainer' is itself a trained network"):
        Teacher.from_key("explainer", model)
    with pytest.raises(ValueError, match="teacher must be a method key"):
        fit_amortized(object(), model, [], "unused")
    with pytest.raises(CheckpointError, match="holds a 'explainer', expected a 'amortized'"):
        load_amortized(SYNTHETIC_EXPLAINER)


def test_target_none_explains_the_top_class_and_needs_the_classifier():
    torch.manual_seed(0)
    network = nn.Conv2d(3, 8, 1).eval()
    model = synthetic_classifier()
    images = torch.rand(2, 3, 64, 64)
    top = model(images).argmax(1)
    with_model = AmortizedAttribution(network, model)
    assert torch.equal(with_model.attribute(images), with_model.attribute(images, target=top))
    with pytest.raises(ValueError, match="target=None needs the classifier"):
        AmortizedAttribution(network).attribute(images)


def test_the_shipped_network_is_small_documented_and_close_to_rise():
    assert SYNTHETIC_AMORTIZED_RISE.stat().st_size <= 5 * 1024 * 1024
    info = manifest(SYNTHETIC_AMORTIZED_RISE)
    assert info["command"].startswith("captum-explainer train-amortized")
    guard = info["regression_guard"]
    model = synthetic_classifier()
    scenes = SyntheticScenes(8, seed=4242, split="test")  # a seed no training run used
    images, labels, _ = collate_items([scenes[i] for i in range(8)])
    reference = RISE(model).attribute_all_classes(images, n_masks=1000, seed=5)
    predicted = AmortizedAttribution(synthetic_amortized_rise(), model).attribute_all_classes(
        images
    )
    correlation = float(map_correlation(predicted, reference)[labels.bool()].mean())
    assert correlation >= guard["floor"], (correlation, guard)


def test_the_demo_shows_amortized_rise_beside_rise_with_plain_file_names(tmp_path):
    quick = {record.key: record.presets["quick"] for record in method_records()}
    report = run_demo(tmp_path / "demo", n_images=2, settings=quick, progress=False)
    html = report.read_text()
    assert "<td>RISE</td>" in html and "<td>Amortized RISE</td>" in html
    assert (report.parent / "class_specificity_amortized_rise.png").is_file()
    assert not [p.name for p in report.parent.iterdir() if " " in p.name]


class PatternPlusSharedField:
    """Class ``k``'s map is ``(1 + k) * channel k`` of the image (the expectation) plus a
    smooth random field shared by every image and class of a call, fresh for every seed,
    averaged over ``n_draws`` fields (its work count): one label is off by a whole field, and
    a network that keeps one label per image learns that field as if it were signal."""

    def attribute_all_classes(
        self, images: torch.Tensor, seed: int = 0, n_draws: int = 1
    ) -> torch.Tensor:
        n, _, h, w = images.shape
        generator = torch.Generator().manual_seed(seed)
        coarse = torch.randn(n_draws, 1, 4, 4, generator=generator).mean(0, keepdim=True)
        field = nn.functional.interpolate(coarse, size=(h, w), mode="bilinear") * 2
        return PixelFunction().attribute_all_classes(images) + field


def _train_one_batch(tmp_path, reuse_labels: bool) -> tuple[float, float]:
    """(the network's error against the expectation, one label's) after 200 one-step epochs
    on 16 images, each label fresh or kept."""
    teacher = Teacher(
        MethodSpec("pattern + field", PatternPlusSharedField(), {"seed": 0, "n_draws": 1}),
        work_arg="n_draws",
    )
    config = AmortizedTrainingConfig(
        tmp_path, epochs=200, batch_size=16, lr=1e-2, progress=False, patience=200,
        reuse_labels=reuse_labels, reference_images=16, reference_work=400,
    )  # fmt: skip
    history = train_amortized(
        config, teacher, nn.Identity(), Images(16, 0), Images(16, 1), ["a", "b", "c"],
        SYNTHETIC_NORMALIZATION,
    )  # fmt: skip
    assert "val_reference_correlation" in history[-1]
    network, _ = load_amortized(tmp_path / "best.pt")
    fresh = Images(64, 2).images
    truth = PixelFunction().attribute_all_classes(fresh)
    with torch.no_grad():
        network_error = (network(fresh) - truth).pow(2).mean().sqrt()
    labels = torch.stack([teacher.maps(fresh, torch.ones(64, K), seed) for seed in range(8)])
    label_error = (labels - truth).pow(2).mean((1, 2, 3, 4)).sqrt().min()
    return float(network_error), float(label_error)


def test_fresh_labels_end_closer_to_the_expectation_than_any_label(tmp_path):
    network_error, label_error = _train_one_batch(tmp_path, reuse_labels=False)
    assert network_error < 0.5 * label_error, (network_error, label_error)


def test_kept_labels_learn_their_noise(tmp_path):
    """The same run with each image's first label kept: the network learns that label's
    field and stays as far from the expectation as a label (the test above would fail)."""
    network_error, label_error = _train_one_batch(tmp_path, reuse_labels=True)
    assert network_error > 0.5 * label_error, (network_error, label_error)


def test_best_checkpoint_is_the_one_closest_to_the_reference(tmp_path):
    teacher = Teacher(
        MethodSpec("pattern + field", PatternPlusSharedField(), {"seed": 0, "n_draws": 1}),
        work_arg="n_draws",
    )
    config = AmortizedTrainingConfig(
        tmp_path, epochs=6, batch_size=16, lr=1e-2, progress=False, patience=6,
        reference_images=8, reference_work=50,
    )  # fmt: skip
    history = train_amortized(
        config, teacher, nn.Identity(), Images(16, 0), Images(16, 1), ["a", "b", "c"],
        SYNTHETIC_NORMALIZATION,
    )  # fmt: skip
    _, checkpoint = load_amortized(tmp_path / "best.pt")
    best = max(history, key=lambda row: row["val_reference_correlation"])
    assert checkpoint["epoch"] == best["epoch"]
    assert (tmp_path / "reference.pt").exists()  # computed once, kept in the run folder
    with open(tmp_path / "log.csv") as log:
        assert "val_reference_correlation" in log.readline()
