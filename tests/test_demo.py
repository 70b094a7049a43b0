"""The demo's main job, and `--retrain`, with quick training commands."""

import shlex

import pytest

from captum_explainer.cli import build_parser, main
from captum_explainer.evaluation import method_records
from captum_explainer.explainer.loss import LossWeights
from captum_explainer.models import pretrained

TINY = dict(
    data={"train_size": 32, "val_size": 16},
    config={"epochs": 1, "max_steps_per_epoch": 1, "batch_size": 8},
)


@pytest.mark.slow
# One training step leaves a classifier that scores every image alike: the faithfulness
# check rightly warns that the blank image keeps the "class".
@pytest.mark.filterwarnings("ignore:the deletion baseline keeps the class:UserWarning")
def test_demo_retrain_trains_both_models_then_writes_the_report(tmp_path, monkeypatch):
    commands = {
        pretrained.SYNTHETIC_CLASSIFIER: {"command": "(tiny)", "retrain": TINY},
        pretrained.SYNTHETIC_EXPLAINER: {"command": "(tiny)", "retrain": TINY},
    }
    monkeypatch.setattr(pretrained, "manifest", lambda path: commands[path])
    out = tmp_path / "demo"
    assert main(["demo", "--retrain", "--n-images", "1", "--out", str(out), "--no-progress"]) == 0
    models = tmp_path / "demo-models"
    assert (models / "classifier" / "best.pt").exists() and (
        models / "explainer" / "best.pt"
    ).exists()
    html = (out / "report.html").read_text()
    # Every record whose network the retrained run has (the Explainer; no amortized network
    # was trained for the new classifier), none listed by hand.
    for record in method_records():
        if record.network in (None, "explainer"):
            assert f"<td>{record.name}</td>" in html
    for figure in ("comparison_grid", "class_specific_view", "deletion_insertion"):
        assert (out / f"{figure}.png").exists()


@pytest.mark.parametrize(
    "weights", [pretrained.SYNTHETIC_CLASSIFIER, pretrained.SYNTHETIC_EXPLAINER], ids=["cnn", "exp"]
)
def test_manifest_retrain_settings_are_its_command(weights):
    """--retrain trains from the manifest's structured settings; they must say what its
    recorded command line says."""
    recipe = pretrained.manifest(weights)
    args = build_parser().parse_args(shlex.split(recipe["command"])[1:])
    retrain = recipe["retrain"]
    for name, value in {**retrain["data"], **retrain["config"]}.items():
        assert getattr(args, name) == value, name
    defaults = build_parser().parse_args([args.command, "--out", "x"])
    for name, value in vars(args).items():  # nothing else in the command differs
        if name not in ("out", "no_progress", "run") and value != getattr(defaults, name):
            assert name in {**retrain["data"], **retrain["config"]} or name in retrain.get(
                "loss_weights", {}
            ), name
    for name, value in retrain.get("loss_weights", {}).items():
        assert getattr(args, name) == value and hasattr(LossWeights(), name)


def test_another_world_needs_its_own_models(tmp_path, capsys):
    assert main(["demo", "--world", "real_objects", "--out", str(tmp_path / "d")]) == 2
    assert "world 'real_objects' needs its classifier and Explainer" in capsys.readouterr().err
    assert main(["demo", "--classifier", "c.pt", "--out", str(tmp_path / "d")]) == 2
    assert "--classifier and --explainer go together" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()
