import json
from pathlib import Path

import pytest
import torch

from captum_explainer.data import BOUNDARY_LABEL, collate_items
from captum_explainer.data.coco import COCO2014
from captum_explainer.data.factory import make_datasets
from captum_explainer.data.voc import VOC2007


def _voc(root, scenes, **kwargs):
    return VOC2007(
        root, image_set="test", image_size=scenes.image_size, classes=scenes.classes, **kwargs
    )


def test_voc_export_reads_back_identically(voc_root, tiny_scenes):
    voc = _voc(voc_root, tiny_scenes)
    assert len(voc) == len(tiny_scenes)
    for i in range(len(voc)):
        image, labels, seg = voc[i]
        ref_image, ref_labels, ref_seg = tiny_scenes[i]
        assert torch.equal(labels, ref_labels)
        assert torch.equal(seg, ref_seg)
        assert image.shape == ref_image.shape


def test_voc_pointing_truth_is_each_class_boxes_at_the_model_resolution(voc_root, tiny_scenes):
    voc = VOC2007(voc_root, image_set="test", image_size=96, classes=tiny_scenes.classes)
    for i in range(len(voc)):
        _, labels, seg = voc[i]
        truth = voc.pointing_truth(i)
        assert truth.shape == (len(tiny_scenes.classes), 96, 96) and truth.dtype == torch.bool
        assert voc.original_size(i).tolist() == [48, 48]
        # Only present classes have boxes, and every pixel of an object lies in its box.
        assert torch.equal(truth.flatten(1).any(1), labels.bool())
        for k in labels.nonzero().flatten().tolist():
            assert truth[k][seg == k + 1].all()
            # A box is the object's bounding rectangle: its rows and columns hold the object.
            rows, cols = truth[k].any(1).nonzero().flatten(), truth[k].any(0).nonzero().flatten()
            obj_rows = (seg == k + 1).any(1).nonzero().flatten()
            assert rows.min() >= obj_rows.min() - 3 and rows.max() <= obj_rows.max() + 3
            assert cols.numel() > 0


def test_voc_resizes_to_the_papers_224_with_imagenet_normalisation(voc_root, tiny_scenes):
    voc = VOC2007(voc_root, image_set="test", classes=tiny_scenes.classes)
    image, _, seg = voc[0]
    assert image.shape == (3, 224, 224) and seg.shape == (224, 224)
    # Nearest-neighbour resizing keeps labels exact: no blended class values appear.
    assert set(seg.unique().tolist()) <= {0, BOUNDARY_LABEL, *range(1, 9)}


def test_voc_keeps_the_difficult_flag(tmp_path, tiny_scenes):
    tiny_scenes.export_voc(tmp_path, image_set="test")
    xml = tmp_path / "VOCdevkit" / "VOC2007" / "Annotations" / "val_000000.xml"
    xml.write_text(
        xml.read_text().replace("<difficult>0</difficult>", "<difficult>1</difficult>", 1)
    )
    voc = _voc(tmp_path, tiny_scenes)
    first = voc.annotation(0)[0]
    assert first["difficult"] is True
    k = tiny_scenes.class_index(first["name"])
    assert voc.labels(0)[k] == 1
    others = [o for o in voc.annotation(0)[1:] if o["name"] == first["name"]]
    assert voc.difficult(0)[k] == (0 if others else 1)
    strict = _voc(tmp_path, tiny_scenes, include_difficult=False)
    assert strict.labels(0)[k] == (1 if others else 0)


def test_voc_image_without_segmentation_gives_none(tmp_path, tiny_scenes):
    tiny_scenes.export_voc(tmp_path, image_set="test")
    (tmp_path / "VOCdevkit" / "VOC2007" / "SegmentationClass" / "val_000001.png").unlink()
    voc = _voc(tmp_path, tiny_scenes)
    assert voc[1][2] is None
    images, labels, segs = collate_items([voc[0], voc[1]])
    assert images.shape[0] == 2 and segs[1] is None


def test_voc_errors_name_the_problem(tmp_path, voc_root, tiny_scenes):
    with pytest.raises(FileNotFoundError, match="VOCdevkit/VOC2007"):
        VOC2007(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="image_set 'train'"):
        VOC2007(voc_root, image_set="train")
    voc = VOC2007(voc_root, image_set="test")  # VOC's 20 classes: shapes are unknown
    with pytest.raises(KeyError, match="unknown class"):
        voc[0]


def test_coco_export_reads_back(coco_root, tiny_scenes):
    coco = COCO2014(coco_root, split="val", image_size=tiny_scenes.image_size)
    assert coco.classes == tiny_scenes.classes
    for i in range(len(coco)):
        _, labels, seg = coco[i]
        _, ref_labels, ref_seg = tiny_scenes[i]
        assert torch.equal(labels, ref_labels)
        objects = (ref_seg > 0) & (ref_seg < BOUNDARY_LABEL)
        assert torch.equal(seg[objects], ref_seg[objects])
        assert (seg[~objects] == 0).all()


def _edit_coco(root: Path, edit) -> None:
    path = root / "annotations" / "instances_val2014.json"
    content = json.loads(path.read_text())
    edit(content)
    path.write_text(json.dumps(content))


def test_coco_image_without_annotations_has_no_labels(tmp_path, tiny_scenes):
    tiny_scenes.export_coco(tmp_path, split="val")
    _edit_coco(
        tmp_path,
        lambda c: c.update(annotations=[a for a in c["annotations"] if a["image_id"] != 1]),
    )
    _, labels, seg = COCO2014(tmp_path, image_size=48)[0]
    assert labels.sum() == 0  # not all ones, as the reference code had it
    assert (seg == 0).all()


def test_coco_class_with_several_instances_counts_once(tmp_path, tiny_scenes):
    tiny_scenes.export_coco(tmp_path, split="val")

    def duplicate(content):
        first = dict(content["annotations"][0], id=10_000)
        content["annotations"].append(first)

    _edit_coco(tmp_path, duplicate)
    _, labels, _ = COCO2014(tmp_path, image_size=48)[0]
    assert labels.max() == 1 and torch.equal(labels, tiny_scenes[0][1])


def test_coco_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="val2014"):
        COCO2014(tmp_path)
    with pytest.raises(ValueError, match="split"):
        COCO2014(tmp_path, split="test")


def test_make_datasets(voc_root):
    pair = make_datasets("synthetic", train_size=10, val_size=5)
    assert len(pair.train) == 10 and len(pair.val) == 5 and len(pair.classes) == 8
    with pytest.raises(ValueError, match="--root"):
        make_datasets("voc2007")
    with pytest.raises(ValueError, match="dataset must be one of"):
        make_datasets("imagenet")
