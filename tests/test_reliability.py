"""Faults injected into training runs, and every bad input the commands meet: one line,
exit status 2, nothing half-written."""

import csv
import os
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from captum_explainer.checkpoint import load_checkpoint, save_checkpoint
from captum_explainer.cli import main
from captum_explainer.data import SYNTHETIC_NORMALIZATION, SyntheticScenes
from captum_explainer.models.pretrained import SYNTHETIC_CLASSIFIER
from captum_explainer.tasks.explain import load_images
from captum_explainer.training import loop
from captum_explainer.training.loop import RunLock

SMALL = [
    "--train-size", "48", "--val-size", "16", "--batch-size", "16", "--image-size", "32",
    "--max-steps-per-epoch", "1", "--no-progress",
]  # fmt: skip


def _train(out, *extra):
    return main(["train-classifier", "--out", str(out), *SMALL, *extra])


def _log(out):
    with open(out / "log.csv") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------- training runs
def test_a_kill_between_best_and_last_loses_nothing(tmp_path, monkeypatch):
    out = tmp_path / "run"
    real = loop.save_checkpoint
    writes = []

    def dying(payload, path, kind):
        writes.append(path.name)
        if path.name == "last.pt" and payload["epoch"] == 2:
            raise KeyboardInterrupt  # killed after best.pt, before last.pt
        return real(payload, path, kind)

    monkeypatch.setattr(loop, "save_checkpoint", dying)
    with pytest.raises(KeyboardInterrupt):
        _train(out, "--epochs", "3", "--patience", "9")
    # Epoch 1: best then last; epoch 2: best (if it improved), then the killed last.
    assert writes[:2] == ["best.pt", "last.pt"] and writes[-1] == "last.pt"
    assert load_checkpoint(out / "last.pt")["epoch"] == 1
    monkeypatch.setattr(loop, "save_checkpoint", real)
    assert _train(out, "--epochs", "3", "--patience", "9", "--resume") == 0
    rows = _log(out)
    last = load_checkpoint(out / "last.pt")
    assert [float(r["epoch"]) for r in rows] == [1.0, 2.0, 3.0] and last["epoch"] == 3
    best_epoch = min(rows, key=lambda r: float(r["val_loss"]))["epoch"]
    assert load_checkpoint(out / "best.pt")["epoch"] == int(float(best_epoch))


def test_a_second_run_into_the_same_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    with RunLock(out):
        assert _train(out, "--epochs", "1") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "in use by another training" in err
    assert not (out / "last.pt").exists()
    assert _train(out, "--epochs", "1") == 0  # released on exit
    assert not (out / ".lock").exists()


def test_a_stale_lock_and_leftover_temporaries_are_cleaned_up(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    (out / ".lock").write_text(f"{socket.gethostname()} {dead}")
    (out / ".last.pt.abc123.tmp").write_bytes(b"half a checkpoint")
    assert _train(out, "--epochs", "1") == 0
    assert sorted(p.name for p in out.iterdir()) == ["best.pt", "last.pt", "log.csv"]


def test_a_live_lock_of_another_process_is_respected(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".lock").write_text(f"{socket.gethostname()} {os.getppid()}")  # a live process
    with pytest.raises(ValueError, match="in use by another training"), RunLock(out):
        pass
    assert (out / ".lock").exists()  # never stolen


def test_resume_with_changed_settings_is_refused_by_name(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(out, "--epochs", "1") == 0
    before = (out / "last.pt").read_bytes()
    assert _train(out, "--epochs", "2", "--lr", "0.5", "--resume") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "lr 0.002 -> 0.5" in err
    assert _train(out, "--epochs", "2", "--arch", "resnet50", "--resume") == 2
    err = capsys.readouterr().err.strip()
    assert "arch 'small_cnn' -> 'resnet50'" in err and "BatchNorm" not in err
    assert (out / "last.pt").read_bytes() == before
    # Training longer is a well-defined change.
    assert _train(out, "--epochs", "2", "--resume") == 0
    assert load_checkpoint(out / "last.pt")["epoch"] == 2


# ---------------------------------------------------------------- bad inputs, every command
@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    image = (SyntheticScenes(1, image_size=64, seed=3, split="test").render(0)[0] * 255).astype(
        np.uint8
    )
    Image.fromarray(image).save(root / "ok.png")
    (root / "trunc.png").write_bytes((root / "ok.png").read_bytes()[:200])
    (root / "notes.png").write_text("not an image")
    (root / "a_file").write_text("x")
    (root / "folder").mkdir()
    checkpoint = load_checkpoint(SYNTHETIC_CLASSIFIER)
    short = dict(checkpoint, classes=checkpoint["classes"][:3])
    save_checkpoint({k: v for k, v in short.items() if k not in ("format", "kind")},
                    root / "short.pt", "classifier")  # fmt: skip
    bare = {k: v for k, v in checkpoint.items() if k not in ("format", "kind", "normalization")}
    save_checkpoint(bare, root / "bare.pt", "classifier")
    scenes = SyntheticScenes(2, image_size=48, seed=7, split="val")
    voc = root / "voc"
    scenes.export_voc(voc, image_set="test")
    annotation = next((voc / "VOCdevkit" / "VOC2007" / "Annotations").glob("*.xml"))
    annotation.write_text(annotation.read_text()[:40])
    coco = root / "coco"
    scenes.export_coco(coco, split="val")
    instances = coco / "annotations" / "instances_val2014.json"
    instances.write_text(instances.read_text().replace('"categories"', '"kategorien"'))
    unknown = root / "coco-unknown"
    scenes.export_coco(unknown, split="val")
    instances = unknown / "annotations" / "instances_val2014.json"
    text = instances.read_text()
    first = text.index('"category_id": ')
    end = text.index(",", first)
    instances.write_text(text[:first] + '"category_id": 9999' + text[end:])
    return root


CASES = {
    "demo-out-is-a-file": (["demo", "--out", "{a_file}", "--n-images", "1"], "is a file"),
    "demo-out-under-a-file": (["demo", "--out", "{a_file}/x", "--n-images", "1"], "which is a file"),
    "evaluate-out-is-a-file": (["evaluate", "--out", "{a_file}", "--n-images", "1"], "is a file"),
    "explain-out-is-a-file": (["explain", "{ok}", "--out", "{a_file}"], "is a file"),
    "train-out-is-a-file": (["train-classifier", "--out", "{a_file}", *SMALL], "is a file"),
    "benchmark-out-is-a-folder": (["benchmark", "--models", "tiny", "--out", "{folder}"], "is a folder"),
    "truncated-png": (["explain", "{ok}", "{trunc}", "--strict", "--out", "{new}"], "trunc.png' could not be read"),
    "not-an-image": (["explain", "{notes}", "--out", "{new}"], "notes.png' is not an image file"),
    "short-class-list": (["explain", "{ok}", "--classifier", "{short}", "--out", "{new}"], "short.pt' names 3 classes for a head of 8"),
    "metadata-missing": (["explain", "{ok}", "--classifier", "{bare}", "--out", "{new}"], "bare.pt' lacks the field 'normalization'"),
    "malformed-voc-xml": (["evaluate", "--dataset", "voc2007", "--root", "{voc}", "--image-size", "48", "--methods", "gradcam", "--out", "{new}"], "is not well-formed XML"),
    "coco-json-missing-key": (["evaluate", "--dataset", "coco2014", "--root", "{coco}", "--image-size", "48", "--methods", "gradcam", "--out", "{new}"], "lack the field 'categories'"),
    "coco-unknown-category": (["evaluate", "--dataset", "coco2014", "--root", "{coco-unknown}", "--image-size", "48", "--methods", "gradcam", "--out", "{new}"], "names category_id 9999, which is not among"),
    "epochs-zero": (["train-classifier", "--out", "{new}", "--epochs", "0", *SMALL], "epochs (--epochs) must be an integer >= 1, got 0"),
    "a-min-above-a-max": (["train-explainer", "--out", "{new}", "--a-min", "0.5", "--a-max", "0.2", *SMALL], "a_min=0.5, a_max=0.2"),
    "nan-loss-weight": (["train-explainer", "--out", "{new}", "--l-e", "nan", *SMALL], "loss weight l_e (--l-e) must be a finite number"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gives_one_line_exit_2_and_no_output(case, files, tmp_path, capsys):
    argv, message = CASES[case]
    paths = {p.stem if p.is_file() else p.name: str(p) for p in files.iterdir()}
    paths["new"] = str(tmp_path / "out")
    argv = [a.format(**paths) for a in argv]
    before = sorted(str(p) for p in files.rglob("*"))
    assert main([*argv, "--no-progress"] if "--no-progress" not in argv else argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"captum-explainer {argv[0]}: error: ") and message in err, err
    assert not (tmp_path / "out").exists()  # nothing half-written
    assert sorted(str(p) for p in files.rglob("*")) == before


def test_an_image_over_pils_pixel_limit_is_refused(files, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # the 64 x 64 image is 4 times over
    assert main(["explain", str(files / "ok.png"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "ok.png' has more pixels than PIL's limit" in err and not (tmp_path / "o").exists()


def test_16_bit_images_are_read_with_their_range(tmp_path):
    ramp = np.tile(np.linspace(0, 65535, 64, dtype=np.uint16), (64, 1))
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I;16")
    image = SYNTHETIC_NORMALIZATION.denormalize(
        load_images([tmp_path / "deep.png"], 64, SYNTHETIC_NORMALIZATION)
    )[0]
    assert image.min() < 0.05 and image.max() > 0.95  # not clipped to white
    assert torch.allclose(image[0, 10], torch.linspace(0, 1, 64), atol=0.03)


def test_images_with_the_same_stem_keep_their_own_outputs(files, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(files / "ok.png", tmp_path / folder / "img.png")
    out = tmp_path / "out"
    paths = [str(tmp_path / "a" / "img.png"), str(tmp_path / "b" / "img.png")]
    assert main(["explain", *paths, "--target", "0", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "img-1_gradcam_circle.npy", "img-1_gradcam_circle.png",
        "img-2_gradcam_circle.npy", "img-2_gradcam_circle.png",
    ]  # fmt: skip
