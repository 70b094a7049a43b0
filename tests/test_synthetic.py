import numpy as np
import pytest
import torch

from captum_explainer.data import BOUNDARY_LABEL, SYNTHETIC_NORMALIZATION, SyntheticScenes


def test_items_are_deterministic_in_seed_split_and_index():
    a = SyntheticScenes(10, seed=3)
    b = SyntheticScenes(10, seed=3)
    for i in (0, 7):
        for x, y in zip(a[i], b[i]):
            assert torch.equal(x, y)
    assert not torch.equal(a[0][0], SyntheticScenes(10, seed=4)[0][0])
    assert not torch.equal(a[0][0], SyntheticScenes(10, seed=3, split="val")[0][0])
    assert not torch.equal(a[0][0], a[1][0])


@pytest.mark.parametrize("size", [32, 64, 96])
def test_item_shapes_and_types(size):
    data = SyntheticScenes(4, image_size=size, num_classes=5)
    image, labels, seg = data[2]
    assert image.shape == (3, size, size) and image.dtype == torch.float32
    assert labels.shape == (5,) and labels.dtype == torch.float32
    assert seg.shape == (size, size) and seg.dtype == torch.int64
    assert 1 <= labels.sum() <= 3


def test_labels_match_segmentation_and_boundaries_lie_outside_objects():
    data = SyntheticScenes(30, image_size=64)
    for i in range(30):
        _, labels, seg = data[i]
        present = {int(v) - 1 for v in seg.unique() if 0 < v < BOUNDARY_LABEL}
        assert present == set(torch.nonzero(labels).flatten().tolist())
        scene = data.scene(i)
        # The 255 band never covers an object pixel, and touches every object.
        assert not (seg == BOUNDARY_LABEL)[torch.from_numpy(scene.owner >= 0)].any()
        assert (seg == BOUNDARY_LABEL).any()


def test_objects_are_not_hidden_by_occlusion():
    data = SyntheticScenes(50)
    cfg = data.config
    for i in range(50):
        scene = data.scene(i)
        visible = np.bincount(scene.owner[scene.owner >= 0], minlength=len(scene.object_classes))
        assert (visible > 0).all()
        assert len(scene.object_classes) >= cfg.min_objects


def test_classes_differ_by_shape_not_colour():
    # Each class's mean object colour agrees with the mean over all objects within
    # sampling error: colour carries no class information.
    data = SyntheticScenes(400, normalize=False)
    colours: list[list[np.ndarray]] = [[] for _ in range(8)]
    for i in range(400):
        scene = data.scene(i)
        for obj, cls in enumerate(scene.object_classes):
            colours[cls].append(scene.image[scene.owner == obj][0])
    overall = np.concatenate([np.stack(c) for c in colours]).mean(axis=0)
    for per_class in colours:
        per_class = np.stack(per_class)
        standard_error = per_class.std(axis=0) / np.sqrt(len(per_class))
        assert (np.abs(per_class.mean(axis=0) - overall) < 4 * standard_error).all()


def test_normalisation_round_trip_and_statistics():
    data = SyntheticScenes(200, normalize=True)
    images = torch.stack([data[i][0] for i in range(200)])
    assert images.mean().abs() < 0.1
    assert (images.std() - 1).abs() < 0.1
    raw = torch.from_numpy(data.render(5)[0]).permute(2, 0, 1)
    back = SYNTHETIC_NORMALIZATION.denormalize(data[5][0])
    assert torch.allclose(back, raw, atol=1e-5)


def test_class_index_and_bad_arguments():
    data = SyntheticScenes(5)
    assert data.class_index("star") == 3
    with pytest.raises(KeyError, match="unknown class 'dog'"):
        data.class_index("dog")
    with pytest.raises(ValueError, match="image_size"):
        SyntheticScenes(5, image_size=8)
    with pytest.raises(ValueError, match="num_classes"):
        SyntheticScenes(5, num_classes=9)
    with pytest.raises(ValueError, match="length"):
        SyntheticScenes(0)
    with pytest.raises(ValueError, match="split"):
        SyntheticScenes(5, split="holdout")
    with pytest.raises(IndexError):
        data[5]
