"""Training an amortized method: a network regresses a teacher's every-class maps, computed
on the fly for every batch, with the package's loop (checkpoints, resume, early stopping, a
progress bar with the time left)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from captum_explainer.amortized.teacher import Teacher
from captum_explainer.checkpoint import load_checkpoint, save_checkpoint
from captum_explainer.data.loading import check_not_empty
from captum_explainer.data.synthetic import SyntheticScenes
from captum_explainer.data.types import Normalization
from captum_explainer.distributed import DistributedContext
from captum_explainer.explainer.train import data_loaders
from captum_explainer.models.explainer_nets import build_explainer, init_encoder_from
from captum_explainer.models.user import check_channels
from captum_explainer.output_files import check_output_folder
from captum_explainer.training.classifier import materialize
from captum_explainer.training.loop import FitConfig, Trainer, check_loop_settings, checkpoint_meta

#: The seed of the validation labels' draws: far from every training batch's (1, 2, ...),
#: so that no validation label repeats a training one.
VALIDATION_SEED = 1_000_000_007

#: The default network: the small Explainer without its per-class head and with a thin
#: full-resolution branch (a teacher's maps, RISE's a 7 x 7 grid upsampled, are smoother
#: than masks); its encoder has the small CNN's width, so that it starts from the classifier.
DEFAULT_ARCH_KWARGS = dict(width=32, full_res_channels=8, class_head_channels=0)


@dataclass
class AmortizedTrainingConfig:
    """Settings of ``captum-explainer train-amortized`` (see its ``--help``).

    Args:
        out_dir: the run's folder (``best.pt``, ``last.pt``, ``log.csv``).
        arch, arch_kwargs: the network (:data:`~captum_explainer.models.EXPLAINERS`) and its
            builder's arguments (default :data:`DEFAULT_ARCH_KWARGS` for ``small_explainer``).
        lr, epochs, batch_size, patience, seed: the training (as ``train-explainer``).
        resume, max_steps_per_epoch, progress, num_workers: the loop's, likewise.
        init_from_classifier: start the encoder from the classifier's features where they fit.
        label_epochs: how many epochs each training image's label serves before the teacher
            draws it anew. 1 (default): fresh labels on every visit, so that the network
            averages the teacher's noise out instead of learning it (Covert et al., NeurIPS
            2024); more: the teacher's time is paid once per that many epochs, the labels
            kept in memory as float16 in between (images x K x H x W x 2 bytes, 0.5 GB for
            8,000 images of 8 classes at 64 px).
        reuse_labels: 0.3's setting: keep each image's first label for the whole run (the
            network can then learn the labels' noise; docs/amortized.md measured it).
        reference_images: the validation images the network is measured on against the
            teacher at a large work count (the first ones of the validation set); their
            reference maps are computed once and kept in ``out_dir/reference.pt``.
        reference_work: the teacher's work count for that reference (RISE: 4,000 masks,
            drawn with a seed no label uses); ``None``, or a teacher without a work count:
            the teacher as it is. ``best.pt`` is the epoch whose maps correlate best with the
            reference (``val_reference_correlation`` in ``log.csv``), not the lowest loss
            against noisy labels; early stopping follows the same number.
        command, extra_meta: recorded in the checkpoint.

    Example:
        >>> from captum_explainer.amortized import AmortizedTrainingConfig
        >>> config = AmortizedTrainingConfig("runs/amortized-rise", epochs=15, lr=2e-3)
        >>> config.builder_kwargs(channels=3)  # the default network's
        {'width': 32, 'full_res_channels': 8, 'class_head_channels': 0, 'in_channels': 3}
    """

    out_dir: Path
    arch: str = "small_explainer"
    arch_kwargs: dict[str, Any] | None = None
    lr: float = 1e-3
    epochs: int = 10
    batch_size: int = 16
    patience: int = 5
    seed: int = 0
    resume: bool = False
    max_steps_per_epoch: int | None = None
    progress: bool = True
    num_workers: int = 0
    init_from_classifier: bool = True
    label_epochs: int = 1
    reuse_labels: bool = False
    reference_images: int = 32
    reference_work: int | None = 4000
    command: str = ""
    extra_meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        check_loop_settings(self)
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr (--lr) must be a number > 0, got {self.lr!r}")
        for name in ("label_epochs", "reference_images"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.reference_work is not None and (
            not isinstance(self.reference_work, int) or self.reference_work < 1
        ):
            raise ValueError(
                f"reference_work must be an integer >= 1 or None, got {self.reference_work!r}"
            )

    def builder_kwargs(self, channels: int) -> dict[str, Any]:
        """The network builder's arguments for images of ``channels`` channels."""
        kwargs = dict(
            self.arch_kwargs
            if self.arch_kwargs is not None
            else (DEFAULT_ARCH_KWARGS if self.arch == "small_explainer" else {})
        )
        if self.arch != "deeplabv3_resnet50":
            kwargs.setdefault("in_channels", channels)
        return kwargs


class KeptLabels:
    """Each training image's label, as float16 in one CPU tensor (allocated with the first
    labels, when their shape is known), with the epoch it was drawn in: it serves
    ``epochs`` epochs (``None``: the whole run), then is drawn anew.

    Example:
        >>> import torch
        >>> from captum_explainer.amortized.train import KeptLabels
        >>> kept = KeptLabels(3, epochs=2)
        >>> kept.keep(torch.tensor([0, 1]), torch.zeros(2, 1, 4, 4), epoch=0)
        >>> kept.missing(torch.tensor([0, 2]), epoch=1).tolist()  # image 2 was never labelled
        [False, True]
        >>> kept.missing(torch.tensor([0, 1]), epoch=2).tolist()  # two epochs old: drawn anew
        [True, True]
    """

    def __init__(self, size: int, epochs: int | None = None) -> None:
        self.drawn = torch.full((size,), -1, dtype=torch.long)
        self.epochs = epochs
        self.maps: torch.Tensor | None = None

    def missing(self, indices: torch.Tensor, epoch: int = 0) -> torch.Tensor:
        """``(B,)`` true where the image ``indices[i]`` has no label, or one too old."""
        drawn = self.drawn[indices]
        stale = (epoch - drawn >= self.epochs) if self.epochs is not None else drawn < 0
        return (drawn < 0) | stale

    def keep(self, indices: torch.Tensor, maps: torch.Tensor, epoch: int = 0) -> None:
        if self.maps is None:
            self.maps = torch.empty((len(self.drawn), *maps.shape[1:]), dtype=torch.float16)
        self.maps[indices] = maps.detach().to("cpu", torch.float16)
        self.drawn[indices] = epoch


class IndexedItems(Dataset):
    """``(image, labels, index)`` for each item of ``dataset``: where its label is kept.

    Example:
        >>> import torch
        >>> from captum_explainer.amortized.train import IndexedItems
        >>> items = IndexedItems([(torch.zeros(3, 8, 8), torch.ones(2))])
        >>> items[0][2]
        tensor(0)
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        item = self.dataset[index]
        return item[0], item[1], torch.tensor(index)


def map_correlation(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of each map with its target over the pixels: ``(N, K, H, W)``
    pairs -> ``(N, K)``; NaN where either map is constant.

    Example:
        >>> import torch
        >>> from captum_explainer.amortized import map_correlation
        >>> maps = torch.rand(2, 3, 8, 8)
        >>> map_correlation(2 * maps + 1, maps).allclose(torch.ones(2, 3))  # same pattern, any scale
        True
    """
    a = predicted.flatten(2) - predicted.flatten(2).mean(2, keepdim=True)
    b = target.flatten(2) - target.flatten(2).mean(2, keepdim=True)
    norm = a.norm(dim=2) * b.norm(dim=2)
    return torch.where(norm > 0, (a * b).sum(2) / norm.clamp(min=1e-30), torch.nan)


def label_scales(
    labelled: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
) -> tuple[float, float]:
    """The variances of the labelled classes' maps in ``(images, maps, labels)`` batches:
    of their levels (means over the pixels) and of their patterns (the pixels around the
    level, averaged over maps).

    Example:
        >>> import torch
        >>> from captum_explainer.amortized.train import label_scales
        >>> maps = torch.tensor([[[[0.0, 2.0]], [[5.0, 5.0]]]])  # class 0 varies, class 1 is flat
        >>> label_scales([(None, maps, torch.tensor([[1, 0]]))])  # only the labelled class counts
        (1.0, 2.0)
    """
    levels, patterns = [], []
    for _, maps, labels in labelled:
        flat = maps.flatten(2)[labels.bool()]
        levels.append(flat.mean(1))
        patterns.append(flat.var(1))
    level, pattern = torch.cat(levels), torch.cat(patterns)
    scales = (float(level.var()) if len(level) > 1 else 1.0, float(pattern.mean()))
    if not scales[1] > 0:
        raise ValueError(
            "the teacher's maps of the labelled validation classes are flat (no variation "
            "over the pixels): nothing to learn; check the teacher and the validation data"
        )
    return (scales[0] if scales[0] > 0 else 1.0), scales[1]


def pattern_loss(
    predicted: torch.Tensor, target: torch.Tensor, scales: tuple[float, float]
) -> dict[str, torch.Tensor]:
    """The squared error of each map's level (its mean over the pixels) and of its pattern
    (the map minus its level), each divided by its scale (:func:`label_scales`).

    A teacher's maps vary far more in level (a present class's RISE map sits near its score,
    an absent one's near zero) than in pattern (a few hundredths across the image); the plain
    squared error would learn the levels only. Both terms are squared errors of fixed linear
    functions of the labels, so the minimiser is still the labels' expectation: noisy,
    unbiased labels are averaged out as before.

    Example:
        >>> import torch
        >>> from captum_explainer.amortized.train import pattern_loss
        >>> target = torch.tensor([[[[0.0, 2.0]]]])
        >>> terms = pattern_loss(target + 3, target, scales=(1.0, 1.0))  # right pattern, wrong level
        >>> terms["level"].item(), terms["pattern"].item()
        (9.0, 0.0)
    """
    level_p, level_t = predicted.mean((2, 3), keepdim=True), target.mean((2, 3), keepdim=True)
    level = F.mse_loss(level_p, level_t) / scales[0]
    pattern = F.mse_loss(predicted - level_p, target - level_t) / scales[1]
    return {"loss": level + pattern, "level": level, "pattern": pattern}


class RunLabels:
    """The teacher's labels as a run uses them: every call timed (:attr:`seconds`), the
    training labels drawn fresh, or kept for a while (:class:`KeptLabels`)."""

    def __init__(self, teacher: Teacher, kept: KeptLabels | None = None) -> None:
        self.teacher, self.kept, self.seconds = teacher, kept, 0.0

    def timed(self, compute: Callable[[], Any]) -> Any:
        """``compute()``, its time added to :attr:`seconds`."""
        start = time.perf_counter()
        value = compute()
        self.seconds += time.perf_counter() - start
        return value

    def maps(self, images: torch.Tensor, labels: torch.Tensor, seed: int) -> torch.Tensor:
        """The teacher's maps of ``images`` with ``seed``, timed."""
        return self.timed(lambda: self.teacher.maps(images, labels, seed))

    def training_targets(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        indices: torch.Tensor,
        seed: int,
        epoch: int,
    ) -> torch.Tensor:
        """The training batch's labels: drawn with ``seed``, or the kept ones where they
        are not too old (only the missing ones drawn)."""
        if self.kept is None:
            return self.maps(images, labels, seed)
        new = self.kept.missing(indices, epoch)
        if new.any():
            on_device = new.to(images.device)
            maps = self.maps(images[on_device], labels[on_device], seed)
            self.kept.keep(indices[new], maps, epoch)
        return self.kept.maps[indices].float().to(images.device)


def validation_correlations(
    network: nn.Module,
    validation: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    reference: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> dict[str, float]:
    """The mean correlation of the network's maps of the labelled classes (an absent class's
    map is flat up to the labels' noise) with the validation labels (``val_correlation``)
    and with the reference (``val_reference_correlation``); the network's mode restored."""
    was_training = network.training
    network.eval()
    try:
        with torch.no_grad():
            correlation = torch.cat(
                [
                    map_correlation(network(images), targets)[labels.bool()]
                    for images, targets, labels in validation
                ]
            )
            images, targets, labels = reference
            against_reference = map_correlation(network(images), targets)[labels.bool()]
    finally:
        network.train(was_training)
    return {
        "val_correlation": float(correlation.nanmean()),
        "val_reference_correlation": float(against_reference.nanmean()),
    }


def _build_network(
    config: AmortizedTrainingConfig, classes: list[str], image: torch.Tensor, classifier: nn.Module
) -> nn.Module:
    network = build_explainer(config.arch, len(classes), **config.builder_kwargs(image.shape[0]))
    if config.init_from_classifier:
        config.extra_meta["encoder_from_classifier"] = init_encoder_from(network, classifier)
    return network


#: The seed of the reference maps (no training or validation label draws it).
REFERENCE_SEED = 2_000_000_011


def reference_maps(
    config: AmortizedTrainingConfig,
    teacher: Teacher,
    validation: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(images, reference maps, labels)`` of the first ``config.reference_images``
    validation images: the teacher at ``config.reference_work`` (:meth:`Teacher.at_work`),
    seed :data:`REFERENCE_SEED`; computed once and kept in ``out_dir/reference.pt`` (a
    resumed run, or a second run into the folder with the same teacher, reads it back).

    Example:
        >>> import tempfile, torch
        >>> from captum_explainer.amortized import AmortizedTrainingConfig, Teacher
        >>> from captum_explainer.amortized.train import reference_maps
        >>> from captum_explainer.models import synthetic_classifier
        >>> teacher = Teacher.from_key("rise", synthetic_classifier(), n_masks=8)
        >>> images, labels = torch.rand(3, 3, 32, 32), torch.eye(8)[:3]
        >>> with tempfile.TemporaryDirectory() as run:
        ...     config = AmortizedTrainingConfig(run, reference_images=2, reference_work=16)
        ...     _, maps, _ = reference_maps(config, teacher, [(images, None, labels)])
        >>> tuple(maps.shape)
        (2, 8, 32, 32)
    """
    n = config.reference_images
    images = torch.cat([batch[0] for batch in validation])[:n]
    labels = torch.cat([batch[2] for batch in validation])[:n]
    path = Path(config.out_dir) / "reference.pt"
    what = {"teacher": teacher.name, "work": config.reference_work, "images": len(images)}
    if path.exists():
        stored = load_checkpoint(path, kind="amortized-reference", map_location=images.device)
        if all(stored.get(key) == value for key, value in what.items()):
            return images, stored["maps"].to(images.device), labels
    maps = teacher.at_work(config.reference_work).maps(images, labels, REFERENCE_SEED)
    save_checkpoint({**what, "maps": maps.cpu()}, path, kind="amortized-reference")
    return images, maps, labels


def train_amortized(
    config: AmortizedTrainingConfig,
    teacher: Teacher,
    classifier: nn.Module,
    train_set: Dataset,
    val_set: Dataset,
    classes: list[str],
    normalization: Normalization,
    device: str | torch.device = "cpu",
) -> list[dict[str, float]]:
    """Train a network to predict ``teacher``'s maps of every class; write ``best.pt``,
    ``last.pt`` (kind ``"amortized"``) and ``log.csv`` into ``config.out_dir``.

    Training images are labelled by the teacher on the fly, with a fresh seed per step
    (:meth:`Teacher.maps`), each label serving ``label_epochs`` epochs (default 1: fresh
    labels on every visit); the validation images are labelled once, with their own seed,
    and the first ``reference_images`` of them also at the teacher's ``reference_work``
    (:func:`reference_maps`). The loss is :func:`pattern_loss`, in the teacher's units. Each
    epoch's log holds ``val_correlation`` (the network's maps of the labelled classes against
    the noisy validation labels, so it stays below 1), ``val_reference_correlation``
    (against the reference: what chooses ``best.pt`` and stops the run), ``images_seen``
    and ``teacher_seconds`` (the time spent computing labels and the reference so far).

    Args:
        config: the settings.
        teacher: the method imitated (computed from ``classifier``).
        classifier: the frozen model the teacher explains (left as it was).
        train_set, val_set: items ``(image, multi-hot labels, ...)``.
        classes: the class names, ``K`` of them; normalization: the images'.
        device: where the network and the teacher run.

    Returns:
        The per-epoch log.

    Example:
        >>> import tempfile
        >>> from captum_explainer import SyntheticScenes
        >>> from captum_explainer.amortized import AmortizedTrainingConfig, Teacher, train_amortized
        >>> from captum_explainer.data import SYNTHETIC_NORMALIZATION
        >>> from captum_explainer.models import synthetic_classifier
        >>> classifier = synthetic_classifier()
        >>> teacher = Teacher.from_key("rise", classifier, n_masks=16)
        >>> train, val = SyntheticScenes(8, image_size=32), SyntheticScenes(4, 32, split="val")
        >>> with tempfile.TemporaryDirectory() as run:
        ...     config = AmortizedTrainingConfig(run, epochs=1, batch_size=4, progress=False)
        ...     log = train_amortized(
        ...         config, teacher, classifier, train, val, list(train.classes), SYNTHETIC_NORMALIZATION
        ...     )
        >>> "val_correlation" in log[0], log[0]["images_seen"]
        (True, 8.0)
    """
    check_output_folder(config.out_dir)
    check_not_empty(train_set, "training set")
    check_not_empty(val_set, "validation set")
    device = torch.device(device)
    torch.manual_seed(config.seed)
    image = train_set[0][0].to(device)
    check_channels(classifier, image, "the training data")
    network = _build_network(config, classes, image, classifier).to(device)
    if isinstance(train_set, SyntheticScenes):
        train_set = materialize(train_set)  # drawn once, not in every epoch
    train_batches, val_batches = data_loaders(
        config, IndexedItems(train_set), val_set, DistributedContext()
    )
    label_epochs = None if config.reuse_labels else config.label_epochs
    labels_of = RunLabels(
        teacher, KeptLabels(len(train_set), label_epochs) if label_epochs != 1 else None
    )
    validation = [
        (batch[0].to(device), labels_of.maps(batch[0].to(device), batch[1].to(device), seed),
         batch[1].to(device))
        for seed, batch in enumerate(val_batches(), start=VALIDATION_SEED)
    ]  # fmt: skip
    scales = label_scales(validation)
    reference = labels_of.timed(lambda: reference_maps(config, teacher, validation))

    def step(batch: Any, train: bool) -> dict[str, torch.Tensor]:
        if train:
            # Step s of the run (resumed runs included) draws seed s + 1: fresh masks.
            images = batch[0].to(device)
            targets = labels_of.training_targets(
                images, batch[1].to(device), batch[2], trainer.steps + 1, trainer.epoch
            )
        else:
            images, targets, _ = batch
        predicted = network(images)
        if predicted.shape != targets.shape:
            raise ValueError(
                f"the network gives maps {tuple(predicted.shape)} but the teacher "
                f"{teacher.name!r} gives {tuple(targets.shape)}"
            )
        return pattern_loss(predicted, targets, scales)

    def evaluate() -> dict[str, float]:
        return {
            **validation_correlations(network, validation, reference),
            "images_seen": float(trainer.steps * config.batch_size),
            "teacher_seconds": labels_of.seconds,
        }

    optimizer = torch.optim.Adam(network.parameters(), lr=config.lr)
    # best.pt: the epoch closest to the teacher's limit, not to its noisy labels.
    fit_config = FitConfig.from_command(config, select="val_reference_correlation")
    trainer = Trainer(network, optimizer, step, fit_config, kind="amortized")
    fit_config.meta = checkpoint_meta(
        config.arch,
        classes,
        image,
        normalization,
        config.seed,
        config.command,
        lr=config.lr,
        batch_size=config.batch_size,
        teacher=teacher.name,
        teacher_kwargs=teacher.kwargs,
        arch_kwargs=getattr(network, "builder_kwargs", config.builder_kwargs(image.shape[0])),
        **config.extra_meta,
    )
    was_training = classifier.training
    try:
        classifier.eval()
        return trainer.fit(train_batches, lambda: validation, evaluate)
    finally:
        classifier.train(was_training)
