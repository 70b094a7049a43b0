"""The set-up every application shares: checkpoint -> normalization -> data -> score, and
the methods' own trained networks, one mapping whatever methods are registered."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from captum_explainer.data.factory import DatasetPair, make_datasets
from captum_explainer.data.types import Normalization
from captum_explainer.evaluation.registry import (
    MethodRecord,
    Models,
    method_record,
    method_records,
    refuse_unknown,
    with_shorthands,
)
from captum_explainer.machine import check_device
from captum_explainer.models.loading import load_classifier
from captum_explainer.models.pretrained import SYNTHETIC_CLASSIFIER
from captum_explainer.scores import score_for_task

#: A path per network key (:attr:`~captum_explainer.evaluation.MethodRecord.network`).
NetworkPaths = Mapping[str, "str | os.PathLike"]


@dataclass
class TaskSetup:
    """A classifier with what its checkpoint says of it, and the methods' trained networks.

    Args:
        classifier: the network, on the task's device, in ``eval()`` mode.
        classes, normalization, image_size, task: from the classifier's checkpoint.
        score: how its logits become the scores methods explain and metrics read.
        networks: the methods' own trained networks by key (``"explainer"``,
            ``"amortized-rise"``, a user's), on the device, in ``eval()`` mode.
    """

    classifier: nn.Module
    classes: list[str]
    normalization: Normalization
    image_size: int
    task: str
    score: str
    networks: dict[str, nn.Module] = field(default_factory=dict)

    @property
    def explainer(self) -> nn.Module | None:
        """0.3's ``explainer``: :attr:`Models.explainer` of :meth:`models`."""
        return self.models().explainer

    @property
    def amortized(self) -> nn.Module | None:
        """0.3's ``amortized``: :attr:`Models.amortized` of :meth:`models`."""
        return self.models().amortized

    def as_meta(self) -> dict[str, Any]:
        """What a classifier checkpoint's metadata says of it (classes, image size,
        normalisation, task), as :func:`~captum_explainer.tasks.explain.explain_files` reads it."""
        return {
            "classes": list(self.classes),
            "image_size": [self.image_size, self.image_size],
            "normalization": {
                "mean": list(self.normalization.mean),
                "std": list(self.normalization.std),
            },
            "task": self.task,
        }

    def models(self, layer: nn.Module | str | None = None) -> Models:
        """What the records build their methods from (:class:`~captum_explainer.evaluation.Models`)."""
        return Models(
            self.classifier,
            normalization=self.normalization,
            score=self.score,
            layer=layer,
            networks=self.networks,
        )

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


def network_paths(
    networks: NetworkPaths | None = None,
    explainer: str | os.PathLike | None = None,
    amortized: str | os.PathLike | None = None,
) -> dict[str, str | os.PathLike]:
    """One mapping of network paths from ``networks`` and 0.3's two shorthands (``explainer``
    is ``networks["explainer"]``, ``amortized`` ``networks["amortized-rise"]``); an unknown
    key is a ``ValueError`` naming the keys the records know."""
    paths = with_shorthands(networks, explainer, amortized)
    refuse_unknown(list(paths), [r.network for r in method_records() if r.network], "networks")
    return paths


def load_networks(
    records: Sequence[MethodRecord],
    paths: NetworkPaths,
    shipped_classifier: bool,
    device: str | torch.device = "cpu",
) -> dict[str, nn.Module]:
    """The trained networks ``records`` use: each read from its path in ``paths`` with its
    record's ``load_network``, else, with the shipped classifier, the shipped one
    (``shipped_network``); a network neither given nor shipped is left out (a method asked
    for by name then says what it needs)."""
    networks: dict[str, nn.Module] = {}
    for record in records:
        key = record.network
        if key is None or key in networks:
            continue
        if key in paths and record.load_network is not None:
            networks[key] = record.load_network(paths[key], device)
        elif shipped_classifier and record.shipped_network is not None:
            networks[key] = record.shipped_network(device)
    return {key: network.to(device).eval() for key, network in networks.items()}


def set_up(
    classifier: str | os.PathLike | None = None,
    explainer: str | os.PathLike | None = None,
    need_explainer: bool = False,
    device: str | torch.device = "cpu",
    score: str | None = None,
    amortized: str | os.PathLike | None = None,
    need_amortized: bool = False,
    networks: NetworkPaths | None = None,
    methods: Sequence[str] | None = None,
) -> TaskSetup:
    """Load a classifier checkpoint (default: the shipped synthetic one) onto ``device``,
    and the trained networks of ``methods`` (record keys; default: the networks given): each
    given in ``networks`` (key -> checkpoint), else with the shipped classifier the shipped
    one. ``score`` defaults to the classifier's task's (sigmoid for multi-label, softmax
    for single-label).

    ``explainer``/``amortized`` (paths) and ``need_explainer``/``need_amortized`` are 0.3's
    spelling of ``networks`` and ``methods``, kept: a network given is loaded, and a
    ``need_*`` flag asks for the shipped one where no path is given.
    """
    device = check_device(device)
    paths = network_paths(networks, explainer, amortized)
    if methods is not None:
        records = [method_record(key) for key in methods]
    else:
        wanted = {key for key, flag in (("explainer", need_explainer),
                                        ("amortized-rise", need_amortized)) if flag}  # fmt: skip
        records = [r for r in method_records() if r.network in paths or r.network in wanted]
    model, meta = load_classifier(classifier or SYNTHETIC_CLASSIFIER, device)
    stats = meta["normalization"]
    task = meta.get("task", "multilabel")
    return TaskSetup(
        model.to(device).eval(),
        list(meta["classes"]),
        Normalization(tuple(stats["mean"]), tuple(stats["std"])),
        int(meta["image_size"][0]),
        task,
        score or score_for_task(task),
        load_networks(records, paths, classifier is None, device),
    )
