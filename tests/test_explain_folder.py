"""``explain DIR``: a folder walked in sorted order, non-images skipped with one line each,
images explained in batches, outputs mirroring the folder's layout."""

from __future__ import annotations

import numpy as np
from PIL import Image

from captum_explainer.cli import main
from captum_explainer.data import SyntheticScenes


def _png(path, index=0, size=64):
    path.parent.mkdir(parents=True, exist_ok=True)
    image, _, _ = SyntheticScenes(4, image_size=size, split="test", seed=5).render(index)
    Image.fromarray((image * 255).astype(np.uint8)).save(path)
    return path


def _outputs(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_a_folder_is_walked_and_its_layout_mirrored(tmp_path, capsys):
    photos = tmp_path / "photos"
    _png(photos / "b.png", 1)
    _png(photos / "a.jpg", 0, size=48)  # another size: every image is resized to the model's
    _png(photos / "trip" / "c.png", 2)
    (photos / "notes.txt").write_text("not an image")
    out = tmp_path / "maps"
    argv = ["explain", str(photos), "--target", "star", "--batch-size", "2", "--out", str(out)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert (
        "notes.txt': not an image (.txt)" in captured.err and "does not exist" not in captured.err
    )
    assert _outputs(out) == [
        "a_gradcam_star.npy",
        "a_gradcam_star.png",
        "b_gradcam_star.npy",
        "b_gradcam_star.png",
    ]
    assert main([*argv[:-1], str(tmp_path / "deep"), "--recursive"]) == 0
    assert "trip/c_gradcam_star.npy" in _outputs(tmp_path / "deep")
    assert np.load(out / "a_gradcam_star.npy").shape == (64, 64)


def test_a_folder_and_files_sharing_names_get_distinct_outputs(tmp_path):
    _png(tmp_path / "one" / "x.png", 0)
    _png(tmp_path / "x.png", 1)
    out = tmp_path / "maps"
    assert (
        main(
            [
                "explain",
                str(tmp_path / "x.png"),
                str(tmp_path / "one"),
                "--target",
                "0",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert _outputs(out) == [
        "x-1_gradcam_circle.npy",
        "x-1_gradcam_circle.png",
        "x-2_gradcam_circle.npy",
        "x-2_gradcam_circle.png",
    ]
