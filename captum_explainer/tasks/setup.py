"""The set-up every application shares: checkpoint -> normalization -> data -> score."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

from captum_explainer.data.factory import DatasetPair, make_datasets
from captum_explainer.data.types import Normalization
from captum_explainer.machine import check_device
from captum_explainer.models.pretrained import amortized_for, load_models
from captum_explainer.scores import score_for_task


@dataclass
class TaskSetup:
    """A classifier (and its Explainer) with what its checkpoint says of it.

    Args:
        classifier, explainer: the networks, on the task's device, in ``eval()`` mode.
        classes, normalization, image_size, task: from the classifier's checkpoint.
        score: how its logits become the scores methods explain and metrics read.
        amortized: the network that predicts its RISE maps, where there is one.
    """

    classifier: nn.Module
    explainer: nn.Module | None
    classes: list[str]
    normalization: Normalization
    image_size: int
    task: str
    score: str
    amortized: nn.Module | None = None

    def datasets(
        self,
        dataset: str,
        root: str | os.PathLike | None = None,
        image_size: int | None = None,
        train_size: int = 1,
        val_size: int = 200,
        seed: int = 0,
    ) -> DatasetPair:
        """Dataset ``dataset`` at the classifier's image size, classes and normalisation."""
        return make_datasets(
            dataset,
            root,
            image_size or self.image_size,
            train_size=train_size,
            val_size=val_size,
            seed=seed,
            classes=self.classes,
            normalization=self.normalization,
        )


def set_up(
    classifier: str | os.PathLike | None = None,
    explainer: str | os.PathLike | None = None,
    need_explainer: bool = False,
    device: str | torch.device = "cpu",
    score: str | None = None,
    amortized: str | os.PathLike | None = None,
    need_amortized: bool = False,
) -> TaskSetup:
    """Load a classifier checkpoint (default: the shipped synthetic one) and its Explainer
    (see :func:`~captum_explainer.models.pretrained.load_models`) onto ``device``; ``score``
    defaults to the classifier's task's (sigmoid for multi-label, softmax for single-label).
    With ``need_amortized`` or ``amortized`` given, also its amortized RISE network
    (:func:`~captum_explainer.models.pretrained.amortized_for`)."""
    device = check_device(device)
    model, learned, meta = load_models(classifier, explainer, need_explainer, device)
    network = (
        amortized_for(classifier, amortized, device)
        if need_amortized or amortized is not None
        else None
    )
    stats = meta["normalization"]
    task = meta.get("task", "multilabel")
    return TaskSetup(
        model.to(device).eval(),
        learned.to(device).eval() if learned is not None else None,
        list(meta["classes"]),
        Normalization(tuple(stats["mean"]), tuple(stats["std"])),
        int(meta["image_size"][0]),
        task,
        score or score_for_task(task),
        network.to(device).eval() if network is not None else None,
    )
