"""Train an Explainer for a frozen classifier, on one process or many (``torchrun``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler

from captum_explainer.attr._base import preserved_model_state
from captum_explainer.data import Normalization, SyntheticScenes, collate_items
from captum_explainer.data.factory import make_datasets
from captum_explainer.data.loading import check_not_empty
from captum_explainer.distributed import (
    DistributedContext,
    distributed_context,
    mean_across_ranks,
)
from captum_explainer.explainer.loss import (
    PRESETS,
    TASKS,
    LossWeights,
    check_labels,
    explainer_loss,
    merged_masks,
    separation_classes,
)
from captum_explainer.metrics.per_class import class_mask_scores
from captum_explainer.models.adapters import output_logits
from captum_explainer.models.explainer_nets import (
    build_explainer,
    check_explainer_output,
    init_encoder_from,
    init_encoder_from_file,
)
from captum_explainer.models.inference import autocast, check_precision
from captum_explainer.models.loading import load_classifier
from captum_explainer.models.pretrained import SYNTHETIC_CLASSIFIER
from captum_explainer.models.user import check_channels
from captum_explainer.output_files import check_output_folder
from captum_explainer.training.classifier import materialize
from captum_explainer.training.loop import FitConfig, Trainer, check_loop_settings, checkpoint_meta


@dataclass
class ExplainerTrainingConfig:
    """Settings of ``captum-explainer train-explainer`` (see its ``--help``).

    ``preset`` picks the paper's learning rate and loss weights for one of its settings
    (:data:`PRESETS`); an explicit ``lr`` or ``weights`` overrides it. ``arch_kwargs`` go
    to the Explainer's builder (e.g. ``{"class_head_channels": 4}``) and are stored in the
    checkpoint, which :func:`~captum_explainer.models.loading.load_explainer` rebuilds from.

    Example:
        >>> from captum_explainer.explainer import ExplainerTrainingConfig
        >>> config = ExplainerTrainingConfig(out_dir="runs/explainer", preset="resnet50-voc")
        >>> lr, weights = config.resolved()  # the paper's settings for a ResNet-50 on VOC
        >>> lr, weights.l_e, weights.l_m
        (0.0001, 3.0, 0.01)
    """

    out_dir: Path
    arch: str = "small_explainer"
    preset: str | None = None
    lr: float | None = None
    weights: LossWeights | None = None
    epochs: int = 30
    batch_size: int = 16
    patience: int = 5
    seed: int = 0
    resume: bool = False
    max_steps_per_epoch: int | None = None
    progress: bool = True
    num_workers: int = 0
    init_from_classifier: bool = True
    #: A ResNet ``state_dict`` file (or classifier checkpoint) to start the encoder from
    #: instead of the classifier's backbone, e.g. for a ViT classifier (see
    #: :func:`~captum_explainer.models.explainer_nets.init_encoder_from_file`).
    encoder_weights: str | os.PathLike | None = None
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    task: str = "multilabel"
    command: str = ""
    extra_meta: dict[str, Any] = field(default_factory=dict)
    #: ``"bf16"`` runs both networks' forward passes under bfloat16 autocast (the masks and
    #: every loss term stay float32): several times faster on CPUs with AVX-512 BF16.
    precision: str = "fp32"

    def __post_init__(self) -> None:
        check_loop_settings(self)
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {list(TASKS)}, got {self.task!r}")
        check_precision(self.precision, "precision (--precision)")

    def resolved(self) -> tuple[float, LossWeights]:
        """The learning rate and loss weights in force (explicit > preset > defaults)."""
        if self.preset is not None and self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {self.preset!r}")
        preset_lr, preset_weights = PRESETS[self.preset] if self.preset else (1e-5, LossWeights())
        return (self.lr if self.lr is not None else preset_lr), (self.weights or preset_weights)


def check_compatible(classifier: nn.Module, explainer: nn.Module, image: torch.Tensor) -> int:
    """The number of classes both networks agree on; a clear error if they do not."""
    check_channels(classifier, image, "the training data")
    with torch.no_grad():
        logits = output_logits(classifier(image[None]))
        masks = explainer(image[None])
    check_explainer_output(masks, image[None])
    if logits.shape[1] != masks.shape[1]:
        raise ValueError(
            f"the classifier has {logits.shape[1]} classes but the Explainer gives "
            f"{masks.shape[1]} masks; build the Explainer with num_classes={logits.shape[1]}"
        )
    return logits.shape[1]


def train_explainer(
    config: ExplainerTrainingConfig,
    classifier: nn.Module,
    train_set: Dataset,
    val_set: Dataset,
    classes: list[str],
    normalization: Normalization,
    context: DistributedContext | None = None,
    explainer: nn.Module | None = None,
) -> list[dict[str, float]]:
    """Train an Explainer for the frozen ``classifier``; write ``best.pt``, ``last.pt``, ``log.csv``.

    The classifier is put in ``eval()`` mode with ``requires_grad=False`` for the whole
    run (dropout and batch-norm statistics off, weights untouched) and both are restored
    afterwards. Under ``torchrun`` the Explainer is wrapped in DistributedDataParallel,
    each process sees its share of every epoch, and only rank 0 writes.

    Args:
        config: the settings.
        classifier: the frozen model to explain, ``(N, C, H, W) -> (N, K)`` logits.
        train_set, val_set: ``(image, labels, segmentation)`` datasets; every image needs a label.
        classes: class names, stored in the checkpoint.
        normalization: the images' normalisation, stored in the checkpoint.
        context: from :func:`~captum_explainer.distributed.setup_distributed` (default: one CPU process).
        explainer: a network to train instead of ``build_explainer(config.arch, K)``.

    Returns:
        The per-epoch log.

    Example:
        >>> import tempfile
        >>> from captum_explainer import SyntheticScenes
        >>> from captum_explainer.data import SYNTHETIC_NORMALIZATION
        >>> from captum_explainer.explainer import ExplainerTrainingConfig, train_explainer
        >>> from captum_explainer.models import synthetic_classifier
        >>> train, val = SyntheticScenes(16, image_size=32), SyntheticScenes(8, 32, split="val")
        >>> with tempfile.TemporaryDirectory() as run:
        ...     config = ExplainerTrainingConfig(run, epochs=1, batch_size=8, lr=1e-3, progress=False)
        ...     log = train_explainer(
        ...         config, synthetic_classifier(), train, val, list(train.classes),
        ...         SYNTHETIC_NORMALIZATION,
        ...     )  # fmt: skip
        >>> len(log), "val_loss" in log[0]  # one row per epoch, as log.csv
        (1, True)
    """
    context = context or DistributedContext()
    check_not_empty(train_set, "training set")
    check_not_empty(val_set, "validation set")
    device = context.device
    lr, weights = config.resolved()
    torch.manual_seed(config.seed)
    classifier = classifier.to(device)
    image = train_set[0][0].to(device)
    check_channels(classifier, image, "the training data")
    if explainer is None:
        explainer = build_explainer(
            config.arch, num_classes=len(classes), **_arch_kwargs(config, image.shape[0])
        )
        if config.encoder_weights is not None:
            init_encoder_from_file(explainer, config.encoder_weights)
            config.extra_meta["encoder_from"] = os.fspath(config.encoder_weights)
        elif config.init_from_classifier:
            config.extra_meta["encoder_from_classifier"] = init_encoder_from(explainer, classifier)
    explainer = explainer.to(device)
    with preserved_model_state(classifier):
        classifier.eval().requires_grad_(False)
        num_classes = check_compatible(classifier, explainer, image)
        if num_classes != len(classes):
            raise ValueError(
                f"the classifier has {num_classes} classes but {len(classes)} were named"
            )
        trainer, loaders = _trainer(
            config, classifier, explainer, train_set, val_set, context, lr, weights
        )
        trainer.config.meta = checkpoint_meta(
            config.arch,
            classes,
            image,
            normalization,
            config.seed,
            config.command,
            lr=lr,
            loss_weights=weights.as_dict(),
            preset=config.preset,
            batch_size=config.batch_size,
            task=config.task,
            arch_kwargs=getattr(explainer, "builder_kwargs", config.arch_kwargs),
            **config.extra_meta,
        )
        images_per_step = config.batch_size * context.world_size
        history = trainer.fit(
            *loaders,
            lambda: learning_curve_point(explainer, loaders[1](), device, trainer, images_per_step),
        )
    if context.enabled:
        # Every rank returns only once rank 0 has written the last checkpoint and log.
        torch.distributed.barrier()
    return history


def learning_curve_point(
    explainer: nn.Module,
    val_batches: Any,
    device: torch.device,
    trainer: Trainer,
    images_per_step: int,
    limit: int = 128,
) -> dict[str, float]:
    """What the masks are worth after this epoch, for the learning curve in ``log.csv``: the
    images seen so far, and on the first ``limit`` validation images that have a segmentation
    the masks' per-class IoU (mean over (image, present class) pairs), own-object share and
    absent-class mass, its mean and median (:func:`~captum_explainer.metrics.class_mask_scores`). Only the images
    seen where the validation data has no segmentation."""
    point = {"images_seen": float(trainer.steps * images_per_step)}
    masks, segmentations, labels = [], [], []
    was_training = explainer.training
    explainer.eval()
    with torch.no_grad():
        for batch in val_batches:
            if sum(len(m) for m in masks) >= limit:
                break
            segmentation = batch[2] if len(batch) > 2 else None
            if not isinstance(segmentation, torch.Tensor):
                continue  # images without a (same-size) segmentation
            masks.append(torch.sigmoid(explainer(batch[0].to(device)).float()).cpu())
            segmentations.append(segmentation)
            labels.append(batch[1])
    explainer.train(was_training)
    if not masks:
        return point
    per_pair, per_image = class_mask_scores(
        torch.cat(masks)[:limit], torch.cat(segmentations)[:limit], torch.cat(labels)[:limit]
    )
    point.update(
        val_class_iou=float(per_pair["class_iou"].nanmean()),
        val_own_object_share=float(per_pair["own_object_share"].nanmean()),
        val_absent_class_mass=float(per_image["absent_class_mass"].nanmean()),
        # The mean of a per-image ratio explodes on images whose present masks are empty.
        val_absent_class_mass_median=float(per_image["absent_class_mass"].nanmedian()),
    )
    return point


def run_explainer_training(
    config: ExplainerTrainingConfig,
    classifier: str | Path | None = None,
    dataset: str = "synthetic",
    root: str | Path | None = None,
    image_size: int | None = None,
    train_size: int = 20000,
    val_size: int = 1000,
    device: str = "cpu",
) -> tuple[list[dict[str, float]], bool]:
    """Train an Explainer for a classifier checkpoint on a dataset given by name: what
    ``captum-explainer train-explainer`` runs, on one process or under ``torchrun``.

    Args:
        config: the training settings.
        classifier: the classifier checkpoint (default: the shipped synthetic classifier);
            recorded in the Explainer's checkpoint.
        dataset, root, image_size, train_size, val_size: as
            :func:`~captum_explainer.data.factory.make_datasets` takes them.
        device: ``"cpu"`` or ``"cuda"`` (under ``torchrun`` each process its own GPU).

    Returns:
        ``(the per-epoch log, whether this process is the main one)``.
    """
    check_output_folder(config.out_dir)
    classifier_path = classifier or SYNTHETIC_CLASSIFIER
    model, _ = load_classifier(classifier_path)
    config.extra_meta.setdefault("classifier", str(classifier_path))
    data = make_datasets(dataset, root, image_size, train_size, val_size, config.seed)
    with distributed_context(device) as context:
        history = train_explainer(
            config,
            model,
            data.require_train(),
            data.val,
            data.classes,
            data.normalization,
            context,
        )
    return history, context.is_main


def loss_terms(
    explainer: nn.Module,
    classifier: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    weights: LossWeights,
    task: str = "multilabel",
    precision: str = "fp32",
) -> dict[str, torch.Tensor]:
    """One training step's forward: the Explainer's masks, one classifier pass over the
    masked, inverted (and, with ``l_sep``, separated) images, and every loss term
    (:func:`~captum_explainer.explainer.loss.explainer_loss`). With ``precision="bf16"``
    the two networks run under bfloat16 autocast and their outputs are cast back to float32."""
    check_labels(labels, task)
    with autocast(images.device, precision):
        logits = explainer(images).float()
    target_mask, non_target_mask = merged_masks(logits, labels)
    batch = [target_mask * images, (1 - target_mask) * images]
    separated = None
    if weights.l_sep:
        separated = separation_classes(labels)
        own_mask = torch.sigmoid(logits[torch.arange(len(images)), separated])[:, None]
        batch.append(own_mask * images)
    # One classifier pass for the masked, inverted (and separated) images together.
    with autocast(images.device, precision):
        outputs = output_logits(classifier(torch.cat(batch))).float().split(images.shape[0])
    return explainer_loss(
        logits,
        labels,
        outputs[0],
        outputs[1],
        target_mask,
        non_target_mask,
        weights,
        separated_logits=outputs[2] if separated is not None else None,
        separated_classes=separated,
        task=task,
    )


def _arch_kwargs(config: ExplainerTrainingConfig, channels: int) -> dict[str, Any]:
    """The builder's arguments: the configured ones, and the images' channel count."""
    kwargs = dict(config.arch_kwargs)
    if config.arch == "deeplabv3_resnet50":
        if channels != 3:
            raise ValueError(
                f"--arch deeplabv3_resnet50 takes 3-channel images, got {channels}; use "
                f"small_explainer or resnet18_fpn"
            )
        return kwargs
    kwargs.setdefault("in_channels", channels)
    return kwargs


def _trainer(
    config: ExplainerTrainingConfig,
    classifier: nn.Module,
    explainer: nn.Module,
    train_set: Dataset,
    val_set: Dataset,
    context: DistributedContext,
    lr: float,
    weights: LossWeights,
) -> tuple[Trainer, tuple[Callable[[int], DataLoader], Callable[[], DataLoader]]]:
    device = context.device
    wrapped = (
        DistributedDataParallel(
            explainer, device_ids=[device.index] if device.type == "cuda" else None
        )
        if context.enabled
        else explainer
    )

    def step(batch: Any, train: bool) -> dict[str, torch.Tensor]:
        images, labels = batch[0].to(device), batch[1].to(device)
        return loss_terms(
            wrapped, classifier, images, labels, weights, config.task, config.precision
        )

    optimizer = torch.optim.Adam(explainer.parameters(), lr=lr)
    fit_config = FitConfig.from_command(
        config,
        is_main_process=context.is_main,
        reduce=lambda values: mean_across_ranks(values, context),
    )
    trainer = Trainer(explainer, optimizer, step, fit_config, kind="explainer", trainable=wrapped)
    return trainer, data_loaders(config, train_set, val_set, context)


def data_loaders(
    config: Any,
    train_set: Dataset,
    val_set: Dataset,
    context: DistributedContext,
) -> tuple[Callable[[int], DataLoader], Callable[[], DataLoader]]:
    """``epoch -> training batches`` (shuffled by ``(config.seed, epoch)`` only, so a resumed
    run sees the same batches; one shard per process under ``torchrun``) and ``() ->
    validation batches``; ``config`` gives ``batch_size``, ``num_workers`` and ``seed``.
    Generated synthetic scenes are drawn once up front (their validation masks kept)."""
    collate = None
    if isinstance(train_set, SyntheticScenes):
        # The validation masks stay: the learning curve scores the masks against them.
        train_set, val_set = materialize(train_set), materialize(val_set, keep_segmentation=True)
    else:
        collate = collate_items
    common = dict(batch_size=config.batch_size, num_workers=config.num_workers, collate_fn=collate)
    val_sampler = (
        DistributedSampler(val_set, context.world_size, context.rank, shuffle=False)
        if context.enabled
        else None
    )
    val_loader = DataLoader(val_set, sampler=val_sampler, **common)

    def train_loader(epoch: int) -> DataLoader:
        # The order depends on (seed, epoch) only: a resumed run sees the same batches.
        if context.enabled:
            sampler = DistributedSampler(
                train_set,
                context.world_size,
                context.rank,
                shuffle=True,
                seed=config.seed,
                drop_last=True,
            )
            sampler.set_epoch(epoch)
        else:
            generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
            sampler = RandomSampler(train_set, generator=generator)
        return DataLoader(
            train_set, sampler=sampler, drop_last=len(train_set) > config.batch_size, **common
        )

    return train_loader, lambda: val_loader
