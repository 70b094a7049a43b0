"""Every input gets an answer: the inputs a real user's folders and machines hold (empty
folders, devices that are not there, unreadable files among good ones, odd image formats,
models without what a method needs, CPUs without native bfloat16)."""

from __future__ import annotations

import errno
import json
import os
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from test_explain_folder import _png  # a synthetic scene saved as a PNG

from captum_explainer.checkpoint import load_checkpoint
from captum_explainer.cli import build_parser, main
from captum_explainer.data import SYNTHETIC_NORMALIZATION, SyntheticScenes, collate_items
from captum_explainer.data._transforms import image_file_to_tensor
from captum_explainer.data.user_images import ImageFolderData
from captum_explainer.evaluation import (
    MethodSpec,
    Models,
    build_methods,
    method_record,
    method_records,
)
from captum_explainer.machine import (
    available_devices,
    check_device,
    describe_machine,
    warn_if_slow_precision,
)
from captum_explainer.models import synthetic_classifier
from captum_explainer.models.inference import autocast
from captum_explainer.models.pretrained import SYNTHETIC_CLASSIFIER, shipped
from captum_explainer.tasks import demo
from captum_explainer.tasks.benchmark import save_rows
from captum_explainer.tasks.explain import explain_files

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")


def _files(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# ---------------------------------------------------------------- an empty folder
def test_explain_of_an_empty_folder_says_it_found_no_image(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no image here")
    out = tmp_path / "maps"
    assert main(["explain", str(tmp_path / "empty"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "found no image in" in err and "empty" in err and ".png" in err
    assert "--recursive" in err  # where the images may be
    assert _files(out) == []


# ---------------------------------------------------------------- devices that are not there
def _device_argv(command, tmp_path):
    """The smallest command line of ``command`` (its required arguments)."""
    required = {
        "explain": [str(_png(tmp_path / "x.png"))],
        "train-classifier": ["--out", str(tmp_path / "run")],
        "train-explainer": ["--out", str(tmp_path / "run")],
        "train-amortized": ["--out", str(tmp_path / "run")],
    }
    return [command, *required.get(command, ["--out", str(tmp_path / "out")])]


def _commands_with_device():
    parser = build_parser()
    commands = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return [
        name
        for name, sub in commands.choices.items()
        if any("--device" in a.option_strings for a in sub._actions)
    ]


@NO_CUDA
@pytest.mark.parametrize("command", _commands_with_device())
@pytest.mark.parametrize("device", ["cuda", "cuda:3", "mps", "cdua", "gpu"])
def test_every_command_names_a_missing_device_first(command, device, tmp_path, capsys):
    if device == "mps" and "mps" in available_devices():
        pytest.skip("this machine has MPS")
    assert main([*_device_argv(command, tmp_path), "--device", device]) == 2
    err = capsys.readouterr().err
    assert f"--device {device!r}" in err and "this machine has: ['cpu'" in err
    assert "checkpoint" not in err  # the shipped checkpoint is fine; the device is the problem
    assert not (tmp_path / "run").exists() and not (tmp_path / "out").exists()


@NO_CUDA
def test_loading_a_checkpoint_onto_a_missing_device_names_the_device():
    with pytest.raises(ValueError, match="device 'cuda'.*this machine has"):
        load_checkpoint(shipped(SYNTHETIC_CLASSIFIER, "train-classifier"), map_location="cuda")


@NO_CUDA
def test_explain_files_refuses_a_missing_device_before_writing(tmp_path):
    classifier = synthetic_classifier()
    meta = {
        "normalization": {"mean": [0.5] * 3, "std": [0.25] * 3},
        "classes": ["a"] * 8,
        "image_size": [64, 64],
    }
    with pytest.raises(ValueError, match="device 'cuda:1'"):
        explain_files([_png(tmp_path / "x.png")], classifier, None, meta, "gradcam", None,
                      tmp_path / "maps", device="cuda:1")  # fmt: skip
    assert not (tmp_path / "maps").exists()


def test_check_device_accepts_what_the_machine_has():
    for device in available_devices():
        assert check_device(device) == torch.device(device)


# ---------------------------------------------------------------- unreadable files among good ones
def _folder_with_bad_files(folder):
    for i in range(3):
        _png(folder / f"good{i}.png", i)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)  # a header, no data
    good = (folder / "good0.png").read_bytes()
    (folder / "truncated.png").write_bytes(good[: len(good) // 3])
    os.symlink(folder / "gone.png", folder / "dangling.png")  # a link that points nowhere
    return folder


def test_explain_skips_unreadable_images_lists_them_and_exits_1(tmp_path, capsys):
    photos = _folder_with_bad_files(tmp_path / "photos")
    out = tmp_path / "maps"
    argv = ["explain", str(photos), "--target", "star", "--batch-size", "2", "--out", str(out)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    for name in ("broken.png", "truncated.png", "dangling.png"):
        assert f"{name}'" in err
    assert "3 image(s) could not be read" in err and "3 map(s) written" in err
    assert _files(out) == sorted(
        f"good{i}_gradcam_star.{x}" for i in range(3) for x in ["npy", "png"]
    )


def test_explain_strict_stops_at_the_first_unreadable_image(tmp_path, capsys):
    photos = _folder_with_bad_files(tmp_path / "photos")
    out = tmp_path / "maps"
    assert main(["explain", str(photos), "--target", "star", "--strict", "--out", str(out)]) == 2
    assert "broken.png" in capsys.readouterr().err
    assert _files(out) == []


def test_explain_where_no_image_can_be_read_is_an_error(tmp_path, capsys):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.jpg").write_text("not a jpeg")
    assert main(["explain", str(tmp_path / "bad"), "--out", str(tmp_path / "maps")]) == 2
    assert "none of the 1 images could be read" in capsys.readouterr().err


def test_a_class_folder_leaves_unreadable_images_out_or_stops(tmp_path):
    root = tmp_path / "data"
    _folder_with_bad_files(root / "star")
    _png(root / "disk" / "d.png", 3)
    with pytest.warns(UserWarning, match="3 of 7 image files .* cannot be read"):
        data = ImageFolderData(root, 32, SYNTHETIC_NORMALIZATION)
    assert len(data) == 4  # bad files never count as images
    assert sorted(p.name for p, _ in data.skipped) == [
        "broken.png",
        "dangling.png",
        "truncated.png",
    ]
    assert all(data[i][0].shape == (3, 32, 32) for i in range(len(data)))
    strict = ImageFolderData(root, 32, SYNTHETIC_NORMALIZATION, strict=True)
    assert len(strict) == 7
    bad = [i for i, p in enumerate(strict.files) if p.name == "broken.png"][0]
    with pytest.raises(ValueError, match="broken.png"):
        strict[bad]


def test_evaluate_on_a_folder_leaves_unreadable_images_out_and_exits_1(tmp_path, capsys):
    data = tmp_path / "data"
    masks = tmp_path / "masks"
    scenes = SyntheticScenes(4, image_size=64, split="test", seed=9)
    for i in range(2):
        image, _, segmentation = scenes.render(i)
        for folder in ("star",):
            path = data / folder / f"s{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray((image * 255).astype(np.uint8)).save(path)
            (masks / folder).mkdir(parents=True, exist_ok=True)
            Image.fromarray(segmentation.astype(np.uint8)).save(masks / folder / f"s{i}.png")
    (data / "star" / "bad.png").write_text("not a png")
    (masks / "star" / "bad.png").write_bytes((masks / "star" / "s0.png").read_bytes())
    classes = list(SyntheticScenes(4).classes)
    argv = ["evaluate", "--data", str(data), "--masks", str(masks), "--classifier",
            shipped(SYNTHETIC_CLASSIFIER, "train-classifier"), "--classes", *classes,
            "--methods", "gradcam", "--no-controls", "--no-progress", "--out", str(tmp_path / "r")]  # fmt: skip
    argv = [str(a) for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "bad.png" in err and "1 image(s) could not be read" in err
    assert (tmp_path / "r" / "report.html").exists()
    assert main([*argv, "--strict"]) == 2


# ---------------------------------------------------------------- odd formats
def _odd_images(folder):
    folder.mkdir(parents=True, exist_ok=True)
    rgb = Image.fromarray((np.random.default_rng(0).random((24, 40, 3)) * 255).astype(np.uint8))
    made = {}
    made["palette.png"] = rgb.convert("P")
    made["palette_alpha.png"] = rgb.convert("RGBA").convert("P")
    made["cmyk.jpg"] = rgb.convert("CMYK")
    made["gray_alpha.png"] = rgb.convert("LA")
    made["bilevel.png"] = rgb.convert("1")
    made["tiny.png"] = Image.new("RGB", (1, 1), "red")
    for name, image in made.items():
        image.save(folder / name)
    Image.fromarray((np.arange(24 * 40).reshape(24, 40) * 60).astype(np.uint16)).save(
        folder / "gray16.png"
    )
    frames = [Image.new("RGB", (40, 24), c) for c in ("red", "blue")]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:])
    exif = rgb.getexif()
    exif[0x0112] = 6  # taken rotated: viewers turn it 90 degrees
    rgb.save(folder / "rotated.jpg", exif=exif)
    return folder


def test_odd_image_formats_are_read(tmp_path):
    folder = _odd_images(tmp_path / "odd")
    for path in sorted(folder.iterdir()):
        tensor, size = image_file_to_tensor(path, 16, SYNTHETIC_NORMALIZATION)
        assert tensor.shape == (3, 16, 16) and torch.isfinite(tensor).all(), path.name
    # The EXIF-rotated photo is read upright, as it is shown: 24 wide, 40 high.
    assert image_file_to_tensor(folder / "rotated.jpg", 16, SYNTHETIC_NORMALIZATION)[1] == (24, 40)
    # A 16-bit image keeps its range (not clipped to white).
    gray16 = image_file_to_tensor(folder / "gray16.png", 16, SYNTHETIC_NORMALIZATION)[0]
    assert float(gray16.std()) > 0.1


def test_explain_explains_every_odd_format_in_a_folder(tmp_path, capsys):
    folder = _odd_images(tmp_path / "odd")
    out = tmp_path / "maps"
    assert main(["explain", str(folder), "--target", "0", "--out", str(out)]) == 0
    assert len(_files(out)) == 2 * len(list(folder.iterdir()))  # the GIF too


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_an_image_without_read_permission_is_skipped_and_named(tmp_path, capsys):
    photos = tmp_path / "photos"
    _png(photos / "a.png")
    locked = _png(photos / "locked.png", 1)
    locked.chmod(0)
    assert main(["explain", str(photos), "--target", "0", "--out", str(tmp_path / "m")]) == 1
    assert "locked.png" in capsys.readouterr().err


# ---------------------------------------------------------------- a record without what it needs
def test_a_record_built_without_a_field_it_needs_names_the_field_and_the_method():
    models = Models(synthetic_classifier())  # no normalization
    with pytest.raises(ValueError, match=r"'fgvis' \(FGVis\) needs Models.normalization"):
        method_record("fgvis").spec(models)


def test_every_record_builds_from_the_fields_it_declares():
    """Each record, given only the fields it says it needs (its networks included), builds."""
    classifier = synthetic_classifier()
    for record in method_records():
        fields = {name: SYNTHETIC_NORMALIZATION for name in record.needs}
        if record.needs_explainer or record.needs_amortized:
            continue  # their networks are checked by test_catalogue
        spec = record.spec(Models(classifier, **fields), preset="quick")
        assert isinstance(spec, MethodSpec)


# ---------------------------------------------------------------- the demo's progress bar
class _RecordingBar:
    """Stands in for tqdm: records its count and label."""

    instances: list[_RecordingBar] = []

    def __init__(self, *args, **kwargs):
        self.n, self.postfix, self.total = 0, "", kwargs.get("total")
        _RecordingBar.instances.append(self)

    def update(self, n=1):
        self.n += n

    def set_postfix_str(self, text):
        self.postfix = text

    def close(self):
        pass


class _Spy:
    """A method whose attribute() notes what the demo's bar shows while it runs."""

    def __init__(self):
        self.seen = []

    def attribute(self, inputs, target=None):
        bar = _RecordingBar.instances[-1]
        self.seen.append((bar.n, bar.postfix))
        return torch.rand(inputs.shape[0], 1, *inputs.shape[-2:])


def test_the_demo_bar_counts_finished_steps_and_names_the_running_one(monkeypatch):
    monkeypatch.setattr(demo, "tqdm", _RecordingBar)
    data = SyntheticScenes(2, split="test", seed=3)
    images, labels, segmentation = collate_items([data[i] for i in range(len(data))])
    first, second = _Spy(), _Spy()
    classifier = synthetic_classifier()
    methods = [
        MethodSpec("First", first, all_classes=False, per_class=False),
        MethodSpec("Second", second, all_classes=False, per_class=False),
        # The demo's recovery section reads the undesirable-pixel maps.
        *build_methods(Models(classifier), ["undesirable"], preset="quick"),
    ]
    demo.measure_demo(classifier, methods, images, labels, segmentation, progress=False)
    bar = _RecordingBar.instances[-1]
    assert first.seen[0] == (0, "First")  # nothing finished yet while the first runs
    assert second.seen[0] == (1, "Second")
    assert bar.n == bar.total  # every step counted once it finished


# ---------------------------------------------------------------- bfloat16 and the machine
def test_bf16_warns_on_a_cpu_without_native_bfloat16(monkeypatch):
    monkeypatch.setattr("captum_explainer.machine.native_bf16", lambda: False)
    with pytest.warns(UserWarning, match="emulated"), autocast(torch.device("cpu"), "bf16"):
        pass
    monkeypatch.setattr("captum_explainer.machine.native_bf16", lambda: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not warn_if_slow_precision("bf16", "cpu")
        assert not warn_if_slow_precision("fp32", "cpu")


def test_the_benchmark_json_names_the_machine(tmp_path):
    path = save_rows(tmp_path / "bench.json", [])
    machine = json.loads(path.read_text())["machine"]
    assert machine == describe_machine()
    assert (
        machine["cpu_model"] and machine["threads"] >= 1 and machine["torch"] == torch.__version__
    )


# ---------------------------------------------------------------- a full disk
def test_a_full_disk_is_named_and_leaves_no_partial_file(tmp_path, capsys, monkeypatch):
    def no_space(file, array):
        raise OSError(errno.ENOSPC, "No space left on device", str(file))

    monkeypatch.setattr("captum_explainer.tasks.explain.np.save", no_space)
    out = tmp_path / "maps"
    assert main(["explain", str(_png(tmp_path / "x.png")), "--out", str(out)]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert _files(out) == []  # the temporary file was removed
