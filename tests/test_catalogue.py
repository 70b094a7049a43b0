"""The catalogue: one record per method, and everything the applications read from it."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from captum_explainer.data import SYNTHETIC_NORMALIZATION
from captum_explainer.evaluation import catalogue, compare, score_faithfulness
from captum_explainer.evaluation.registry import (
    DEFAULT_COLUMN,
    PRESETS,
    MethodSpec,
    Models,
    build_methods,
    method_record,
    method_records,
    model_dependent_keys,
    model_dependent_record,
    register_method,
    unregister_method,
    work_overrides,
)
from captum_explainer.metrics import deletion_insertion
from captum_explainer.models import SmallCNN, SmallExplainer

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.parametrize("record", method_records(), ids=lambda r: r.key)
def test_every_record_is_complete_and_documented(record):
    assert re.fullmatch(r"[a-z][a-z-]*", record.key)
    assert set(PRESETS) <= set(record.presets)
    assert (DOCS / "methods" / f"{record.key}.md").exists()
    assert record.map_kind in ("pixel", "input") and record.doc
    if record.work_arg is not None:
        assert all(record.work_arg in record.presets[p] for p in ("demo", "quick", "sanity"))


def test_keys_and_names_are_unique_and_a_second_registration_is_refused():
    records = method_records()
    assert len({r.key for r in records}) == len({r.name for r in records}) == len(records)
    with pytest.raises(ValueError, match="key 'rise' is already registered"):
        register_method(method_record("rise"))
    with pytest.raises(ValueError, match="named 'RISE' is already registered"):
        register_method(replace(method_record("rise"), key="rise-again"))


def test_a_registered_method_joins_the_catalogue_until_unregistered():
    keys = [r.key for r in method_records()]
    # A user's record takes the default column, after the package's (a copy of Grad-CAM's
    # would otherwise stand beside it).
    record = replace(
        method_record("gradcam"), key="cam-again", name="CAM again", column=DEFAULT_COLUMN
    )
    register_method(record)
    try:
        assert [r.key for r in method_records()] == [*keys, "cam-again"]
        assert [s.name for s in build_methods(Models(SmallCNN(8)))][-1] == "CAM again"
    finally:
        assert unregister_method("cam-again") is record
    assert [r.key for r in method_records()] == keys
    with pytest.raises(ValueError, match="unknown method 'cam-again'"):
        unregister_method("cam-again")


def test_unknown_key_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown method 'occlusion'; choose from"):
        method_record("occlusion")
    with pytest.raises(ValueError, match="overrides name unknown methods"):
        build_methods(Models(SmallCNN(8)), overrides={"occlusion": {}})


def test_build_methods_follows_the_records():
    torch.manual_seed(0)
    model, explainer = SmallCNN(8).eval(), SmallExplainer(8).eval()
    amortized = SmallExplainer(8, class_head_channels=0).eval()
    every = Models(model, explainer, SYNTHETIC_NORMALIZATION, amortized=amortized)
    with_explainer = build_methods(every, seed=5)
    assert [s.name for s in with_explainer] == [r.name for r in method_records()]
    without = build_methods(Models(model, None, SYNTHETIC_NORMALIZATION))
    assert {"Explainer", "Amortized RISE"}.isdisjoint(s.name for s in without)
    with pytest.raises(
        ValueError, match=r"needs its trained network, Models.networks\['explainer'\]"
    ):
        build_methods(Models(model, None, SYNTHETIC_NORMALIZATION), ["explainer"])
    with pytest.raises(ValueError, match=r"Models.networks\['amortized-rise'\]"):
        build_methods(Models(model, explainer, SYNTHETIC_NORMALIZATION), ["amortized-rise"])
    rise = next(s for s in with_explainer if s.name == "RISE")
    assert rise.kwargs == {"n_masks": 4000, "seed": 5} and rise.specificity
    quick = build_methods(Models(model), ["rise"], "quick", overrides={"rise": {"n_masks": 7}})[0]
    assert quick.kwargs["n_masks"] == 7


def test_work_overrides_set_each_methods_own_count():
    overrides = work_overrides(n_masks=100, n_iter=None, n_steps=3)
    assert overrides["rise"] == {"n_masks": 100} and overrides["undesirable"] == {"n_masks": 100}
    assert overrides["integrated-gradients"] == {"n_steps": 3} and "fgvis" not in overrides


def test_sanity_checks_take_the_model_dependent_records():
    assert "explainer" not in model_dependent_keys() and "scorecam" in model_dependent_keys()
    with pytest.raises(ValueError, match="cannot be checked by randomising the classifier"):
        model_dependent_record("explainer")


def test_the_tables_of_0_3_are_derived_and_deprecated():
    with pytest.warns(DeprecationWarning, match="METHOD_NAMES is deprecated"):
        names = catalogue.METHOD_NAMES
    assert names["integrated-gradients"] == "Integrated Gradients"
    with pytest.warns(DeprecationWarning):
        assert "Score-CAM" in catalogue.SPECIFICITY_METHODS
    with pytest.warns(DeprecationWarning, match="model_randomisation is deprecated"):
        from captum_explainer import sanity

        assert sanity.model_randomisation.__name__ == "model_randomization"


class _Ramp:
    """A map that rises to the right; with ``flip=True`` it rises to the left."""

    def attribute(self, images, target=None, flip=False):
        ramp = torch.linspace(0, 1, images.shape[-1]).expand(images.shape[0], 1, *images.shape[-2:])
        return ramp.flip(-1) if flip else ramp


@pytest.mark.filterwarnings("ignore:the deletion baseline keeps the class")  # an untrained model
def test_the_ranking_games_read_a_methods_ranking_map():
    model = SmallCNN(8).eval()
    images, labels = torch.rand(2, 3, 16, 16), torch.eye(8)[:2]
    plain = MethodSpec("ramp", _Ramp(), all_classes=False)
    ranked = MethodSpec("ramp, ranked flipped", _Ramp(), all_classes=False, ranking={"flip": True})
    result = compare([plain, ranked], images, labels)
    assert result["ramp"].ranking_maps is None
    assert torch.equal(result["ramp, ranked flipped"].pair_maps, result["ramp"].pair_maps)
    games = score_faithfulness(model, [plain, ranked], result, deletion_steps=4)
    expected = deletion_insertion(
        model, images, result["ramp"].pair_maps.flip(-1), torch.tensor([0, 1]), 4, "sigmoid"
    )
    assert torch.allclose(games.curves["ramp, ranked flipped"].deletion, expected.deletion)
    assert not torch.allclose(games.curves["ramp"].deletion, expected.deletion)
    assert method_record("explainer").ranking == {"output": "logits"}


def test_the_method_pages_are_the_records():
    """The docs' table of contents lists docs/methods/* (a glob, no hand list): every page
    there is a record's, and every record has one."""
    pages = {path.stem for path in (DOCS / "methods").glob("*.md")}
    assert pages == {record.key for record in method_records()}
    contents = (DOCS / "contents.rst").read_text()
    assert ":glob:" in contents and "methods/*" in contents
