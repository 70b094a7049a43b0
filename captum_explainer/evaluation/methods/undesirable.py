"""The undesirable-pixel maps' record."""

from __future__ import annotations

from captum_explainer.attr import UndesirablePixels
from captum_explainer.evaluation.methods.rise import RECORD as RISE_RECORD
from captum_explainer.evaluation.registry import MethodRecord, register_method

RECORD = register_method(
    MethodRecord(
        key="undesirable",
        name="Undesirable pixels",
        build=lambda m: UndesirablePixels(m.classifier, score=m.score),
        # The same masks, in the same passes, as RISE: its presets and bare passes.
        presets=RISE_RECORD.presets,
        passes=RISE_RECORD.passes,
        seeded=True,
        work_arg="n_masks",
        work_unit="masks",
        labels_as="present",
        # Their maps show what *hinders* a class, not where it is, and a run per class
        # would cost K times the masks.
        per_class=False,
        # What hinders a class is not what the sanity checks compare against.
        in_default_sanity=False,
        recovery_check=True,
        column=70,
        doc="undesirable pixels: what lowers a class against its competitors",
    )
)
