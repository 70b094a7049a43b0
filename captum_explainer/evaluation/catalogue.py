"""The catalogue: one record per method, the only place the package knows a method by name.

A :class:`MethodRecord` says everything the applications need of a method: its key (the one
spelling, used on the command line and in tests), its display name (the report's column),
how to build its Captum attribution object for a model, its cost presets and its traits
(map kind and scale, per-class support, dependence on the model, the bare model passes the
benchmark times it against). The demo, ``evaluate``, ``compare``, ``explain``, the sanity
checks, the Quantus bridge, the benchmark and the tests iterate over :func:`method_records`,
so a method registered here appears in all of them (docs/architecture.md, "How to add a
method").

A method of one comparison is a :class:`MethodSpec`: a built attribution object with the
keyword arguments of its ``attribute``; a user's own Captum method is one more ``MethodSpec``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from captum_explainer.attr import (
    RISE,
    AmortizedAttribution,
    ExplainerAttribution,
    FGVis,
    GradCAM,
    IntegratedGradients,
    ScoreCAM,
    UndesirablePixels,
)
from captum_explainer.attr._masks import auto_batch, mask_batches
from captum_explainer.attr.gradcam import (
    TokenLayer,
    default_layer,
    last_spatial_layer,
    layer_activations,
)
from captum_explainer.attr.scorecam import channel_masks
from captum_explainer.data.types import Normalization
from captum_explainer.evaluation.measure import (
    BarePasses,
    forward_backward_passes,
    forward_chunks,
    forward_passes,
    in_sequence,
)
from captum_explainer.maps import to_pixel_map
from captum_explainer.models.inference import like_network

#: The cost presets every record defines: ``demo`` (the demo, ``evaluate``, ``compare``),
#: ``quick`` (tests, CI), ``sanity`` (the randomisation checks, which explain each image
#: once per randomised layer), ``benchmark`` (the small CNN's cost table) and ``large``
#: (the benchmark of a 224 px model on a CPU: fewer masks and iterations, since per-pass
#: overheads do not depend on their number).
PRESETS = ("demo", "quick", "sanity", "benchmark", "large")


@dataclass
class MethodSpec:
    """One method of a comparison.

    Args:
        name: the column name.
        attribution: a Captum attribution object (anything with ``attribute(inputs, target=...)``).
        kwargs: passed to every ``attribute`` call.
        scale: how maps are brought to [0, 1] for the mask scores (see
            :func:`~captum_explainer.metrics.localization.scale_maps`): ``"minmax"`` for
            saliency maps, ``"none"`` for masks.
        reduction: how an input-shaped attribution becomes one value per pixel.
        all_classes: use the method's ``attribute_all_classes`` (one pass for every
            class) when it has one.
        labels_as: the keyword under which ``attribute`` receives the explained images'
            ``(N, K)`` labels, for a method that needs to know every class an image holds
            (undesirable pixels: its competitors are the classes the image does not hold).
        per_class: score its every-class maps against each class's own pixels (class IoU,
            own-object share, absent-class mass).
        specificity: its every-class maps are cheap enough for the class-specificity game
            (each class's map masks the image once per class).
        ranking: ``attribute`` arguments (over ``kwargs``) that give a map in the same
            order as the displayed one but without its ties, which the games that rank
            pixels (deletion, insertion) use instead: the Explainer's ``{"output":
            "logits"}``, whose masks saturate at 0 and 1. ``None``: the map itself.

    Example:
        >>> from captum_explainer import RISE
        >>> from captum_explainer.evaluation import MethodSpec
        >>> from captum_explainer.models import synthetic_classifier
        >>> rise = MethodSpec("RISE", RISE(synthetic_classifier()), {"n_masks": 500, "seed": 0})
        >>> rise.scale  # saliency maps are min-max scaled before the mask scores
        'minmax'
    """

    name: str
    attribution: Any
    kwargs: dict[str, Any] = field(default_factory=dict)
    scale: str = "minmax"
    reduction: str = "abs_sum"
    all_classes: bool = True
    labels_as: str | None = None
    per_class: bool = True
    specificity: bool = False
    ranking: dict[str, Any] | None = None


@dataclass(frozen=True)
class Models:
    """What a record builds its method from.

    Args:
        classifier: the explained model (or whatever model a sanity check hands over).
        explainer: the trained Explainer network, where there is one.
        normalization: the images' normalisation (FGVis's black reference).
        score: the score black-box and optimisation methods explain (``"sigmoid"`` for a
            multi-label classifier, ``"softmax"`` for a single-label one).
        layer: the layer of the CAM methods: a module, its name in ``classifier``
            (``"layer3"``), or ``None`` to find it (see :class:`~captum_explainer.attr.GradCAM`).
        amortized: the network trained to predict RISE's maps for ``classifier``
            (:func:`~captum_explainer.fit_amortized`), where there is one.

    Example:
        >>> from captum_explainer.evaluation import Models, build_methods
        >>> from captum_explainer.models import synthetic_classifier, synthetic_explainer
        >>> models = Models(synthetic_classifier(), synthetic_explainer(), layer="features.block6")
        >>> [method.name for method in build_methods(models, ["explainer", "gradcam"])]
        ['Explainer', 'Grad-CAM']
    """

    classifier: nn.Module
    explainer: nn.Module | None = None
    normalization: Normalization | None = None
    score: str = "sigmoid"
    layer: nn.Module | TokenLayer | str | None = None
    amortized: nn.Module | None = None

    def cam_layer(self) -> nn.Module | TokenLayer | None:
        """The CAM layer as a module (a name is looked up in whatever classifier this is)."""
        if isinstance(self.layer, str):
            return self.classifier.get_submodule(self.layer)
        return self.layer


#: ``(classifier, network, images, target, kwargs, layer) -> (run, note)``: the model
#: passes a method cannot avoid, which the benchmark times beside it (``network``: the
#: method's own trained network, :meth:`MethodRecord.own_network`, where it has one).
PassesFn = Callable[
    [nn.Module, "nn.Module | None", torch.Tensor, int, dict[str, Any], Any], BarePasses
]


@dataclass(frozen=True)
class MethodRecord:
    """Everything the package knows of one method.

    Args:
        key: the one spelling: command-line name, table key, test id.
        name: the display name (the report's column).
        build: ``Models -> attribution object``.
        presets: keyword arguments of ``attribute`` for each of :data:`PRESETS`.
        passes: the bare model passes the benchmark times the method against.
        seeded: its ``attribute`` takes ``seed`` (random masks): the catalogue passes the
            run's seed.
        work_arg: the keyword that counts its work (``n_masks``, ``n_steps``, ``n_iter``),
            which the command line's cost options and the benchmark's scaling check set.
        scale, reduction, all_classes, labels_as, per_class, specificity, ranking: as
            :class:`MethodSpec` (map kind and scale, per-class support, the ranking map).
        model_dependent: its maps are computed from the classifier at run time, so
            randomising the classifier must change them (the sanity checks). The Explainer's
            come from its own network and need another test.
        needs_explainer: it needs a trained Explainer network.
        needs_amortized: it needs the amortized network (:attr:`Models.amortized`).
        needs: the other fields of :class:`Models` it is built from that have no default
            (FGVis: ``("normalization",)``, its black reference); building it from models
            without one raises a ``ValueError`` naming the field and the method.
        sanity_kwargs: ``attribute`` arguments for the randomisation checks (Grad-CAM keeps
            the negative part there: a randomised model's ReLU'd maps are often all zero).
        sanity_reduction: how its maps become one value per pixel in those checks.
        in_demo_sanity: cheap enough for the demo's sanity section.
        map_kind: ``"pixel"`` (its ``attribute`` gives ``(N, 1, H, W)``) or ``"input"``
            (the input's shape, reduced per pixel by ``reduction``).
        batch_tolerance: how far a batched map may lie from the same image's map computed
            alone (Captum's generated tests use 1e-4; FGVis needs more, see its record).
        benchmark_scaling: the benchmark also runs it at other work counts and warns when
            its time does not grow with them.
        doc: one line for ``--help`` and the docs.

    Example:
        >>> from captum_explainer.evaluation import Models, method_record
        >>> from captum_explainer.models import synthetic_classifier
        >>> record = method_record("rise")
        >>> record.name, record.work_arg, record.settings("quick", seed=3)
        ('RISE', 'n_masks', {'n_masks': 24, 'seed': 3})
        >>> record.spec(Models(synthetic_classifier()), preset="quick").kwargs
        {'n_masks': 24, 'seed': 0}
    """

    key: str
    name: str
    build: Callable[[Models], Any]
    presets: Mapping[str, Mapping[str, Any]]
    passes: PassesFn
    seeded: bool = False
    work_arg: str | None = None
    scale: str = "minmax"
    reduction: str = "abs_sum"
    all_classes: bool = True
    labels_as: str | None = None
    per_class: bool = True
    specificity: bool = False
    ranking: Mapping[str, Any] | None = None
    model_dependent: bool = True
    needs_explainer: bool = False
    needs_amortized: bool = False
    needs: tuple[str, ...] = ()
    sanity_kwargs: Mapping[str, Any] = field(default_factory=dict)
    sanity_reduction: str = "sum"
    in_demo_sanity: bool = False
    benchmark_scaling: bool = False
    map_kind: str = "pixel"
    batch_tolerance: float = 1e-4
    doc: str = ""

    def __post_init__(self) -> None:
        missing = [p for p in PRESETS if p not in self.presets]
        if missing:
            raise ValueError(f"method {self.key!r} lacks the presets {missing}")
        fields = Models.__dataclass_fields__
        unknown = [name for name in self.needs if name not in fields]
        if unknown:
            raise ValueError(
                f"method {self.key!r}: needs names {unknown}, which are not fields of Models "
                f"({list(fields)})"
            )

    def check_models(self, models: Models) -> None:
        """A ``ValueError`` naming the method and the first field of ``models`` it needs and
        lacks (its trained network, or one of :attr:`needs`)."""
        if self.needs_explainer and models.explainer is None:
            raise ValueError(f"method {self.key!r} needs a trained Explainer (--explainer)")
        if self.needs_amortized and models.amortized is None:
            raise ValueError(
                f"method {self.key!r} needs the amortized network trained for this classifier "
                f"(--amortized; train one with `captum-explainer train-amortized`)"
            )
        for name in self.needs:
            if getattr(models, name) is None:
                raise ValueError(
                    f"method {self.key!r} ({self.name}) needs Models.{name}, which is None; "
                    f"give Models(..., {name}=...)"
                )

    def available(self, models: Models) -> bool:
        """Whether ``models`` hold what the method needs: its trained network, if any, and
        the fields of :attr:`needs`."""
        if any(getattr(models, name) is None for name in self.needs):
            return False
        return self.own_network(models) is not None or not (
            self.needs_explainer or self.needs_amortized
        )

    def own_network(self, models: Models) -> nn.Module | None:
        """The method's own trained network in ``models`` (``None`` for the others)."""
        if self.needs_amortized:
            return models.amortized
        return models.explainer if self.needs_explainer else None

    def settings(self, preset: str = "demo", seed: int = 0, **overrides: Any) -> dict[str, Any]:
        """The ``attribute`` keyword arguments of ``preset``, the seed, then ``overrides``."""
        if preset not in self.presets:
            raise ValueError(f"preset must be one of {list(self.presets)}, got {preset!r}")
        kwargs = dict(self.presets[preset])
        if self.seeded:
            kwargs["seed"] = seed
        kwargs.update(overrides)
        return kwargs

    def spec(
        self,
        models: Models,
        preset: str = "demo",
        seed: int = 0,
        overrides: Mapping[str, Any] | None = None,
    ) -> MethodSpec:
        """The method built for ``models`` with the ``preset``'s settings (a ``ValueError``
        where ``models`` lack what it needs, :meth:`check_models`)."""
        self.check_models(models)
        return MethodSpec(
            self.name,
            self.build(models),
            self.settings(preset, seed, **(overrides or {})),
            scale=self.scale,
            reduction=self.reduction,
            all_classes=self.all_classes,
            labels_as=self.labels_as,
            per_class=self.per_class,
            specificity=self.specificity,
            ranking=dict(self.ranking) if self.ranking is not None else None,
        )


_RECORDS: dict[str, MethodRecord] = {}


def register_method(record: MethodRecord) -> MethodRecord:
    """Add ``record`` to the catalogue (keys and names must be new).

    Example:
        >>> from dataclasses import replace
        >>> from captum_explainer.evaluation import method_record, register_method, unregister_method
        >>> presets = {p: {"n_masks": 500} for p in ("demo", "quick", "sanity", "benchmark", "large")}
        >>> cheap_rise = replace(method_record("rise"), key="rise-500", name="RISE-500", presets=presets)
        >>> register_method(cheap_rise).key  # now in the demo, evaluate and --methods
        'rise-500'
        >>> unregister_method("rise-500").name
        'RISE-500'
    """
    if record.key in _RECORDS:
        raise ValueError(f"a method with key {record.key!r} is already registered")
    if any(r.name == record.name for r in _RECORDS.values()):
        raise ValueError(f"a method named {record.name!r} is already registered")
    _RECORDS[record.key] = record
    return record


def unregister_method(key: str) -> MethodRecord:
    """Remove the method ``key`` from the catalogue and return its record (a plugin's or a
    test's own method; a ``ValueError`` names the known keys).

    Example:
        >>> from dataclasses import replace
        >>> from captum_explainer.evaluation import method_keys, method_record, register_method
        >>> from captum_explainer.evaluation import unregister_method
        >>> _ = register_method(replace(method_record("gradcam"), key="my-cam", name="My CAM"))
        >>> "my-cam" in method_keys()
        True
        >>> _ = unregister_method("my-cam")
        >>> "my-cam" in method_keys()
        False
    """
    record = method_record(key)
    del _RECORDS[key]
    return record


def method_records() -> tuple[MethodRecord, ...]:
    """Every registered method, in registration order (the report's column order).

    Example:
        >>> from captum_explainer.evaluation import method_records
        >>> [record.name for record in method_records()][:3]  # the report's column order
        ['Explainer', 'Grad-CAM', 'RISE']
    """
    return tuple(_RECORDS.values())


def method_keys() -> tuple[str, ...]:
    """The keys of every registered method.

    Example:
        >>> from captum_explainer.evaluation import method_keys
        >>> method_keys()[:4]
        ('explainer', 'gradcam', 'rise', 'amortized-rise')
    """
    return tuple(_RECORDS)


def method_record(key: str) -> MethodRecord:
    """The record of ``key``; a ``ValueError`` names the known keys.

    Example:
        >>> from captum_explainer.evaluation import method_record
        >>> method_record("fgvis").name
        'FGVis'
        >>> method_record("lime")
        Traceback (most recent call last):
            ...
        ValueError: unknown method 'lime'; choose from [...]
    """
    if key not in _RECORDS:
        raise ValueError(f"unknown method {key!r}; choose from {sorted(_RECORDS)}")
    return _RECORDS[key]


def build_methods(
    models: Models,
    keys: Sequence[str] | None = None,
    preset: str = "demo",
    seed: int = 0,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[MethodSpec]:
    """The methods ``keys`` (default: every one the models allow) built for ``models``.

    Args:
        models: what to build from (without an Explainer, methods that need one are left
            out of the default list, and named ones raise).
        keys: record keys, in the order wanted.
        preset: one of :data:`PRESETS`.
        seed: the random masks' seed.
        overrides: per key, ``attribute`` arguments replacing the preset's.

    Example:
        >>> from captum_explainer.evaluation import Models, build_methods
        >>> from captum_explainer.models import synthetic_classifier
        >>> methods = build_methods(Models(synthetic_classifier()), ["gradcam", "rise"], preset="quick")
        >>> [(method.name, method.kwargs) for method in methods]
        [('Grad-CAM', {}), ('RISE', {'n_masks': 24, 'seed': 0})]
    """
    overrides = overrides or {}
    unknown = [k for k in overrides if k not in _RECORDS]
    if unknown:
        raise ValueError(f"overrides name unknown methods {unknown}; known: {sorted(_RECORDS)}")
    if keys is None:
        records = [r for r in _RECORDS.values() if r.available(models)]
    else:
        records = [method_record(k) for k in keys]
    return [r.spec(models, preset, seed, overrides.get(r.key)) for r in records]


def default_methods(
    classifier: nn.Module,
    explainer: nn.Module | None,
    normalization: Normalization,
    seed: int = 0,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    score: str = "sigmoid",
    preset: str = "demo",
    layer: nn.Module | str | None = None,
    amortized: nn.Module | None = None,
) -> list[MethodSpec]:
    """Every registered method as the demo and ``evaluate`` run them (the Explainer only
    when ``explainer`` is given, amortized RISE when ``amortized`` is):
    :func:`build_methods` with :class:`Models` spelled out.

    Args:
        classifier: the explained model; explainer: its trained Explainer network;
        normalization: the images' (FGVis's black reference); seed: the random masks' seed;
        settings: per record key, ``attribute`` arguments replacing the preset's;
        score: the score the black-box and optimisation methods explain (``"sigmoid"`` for
            a multi-label classifier, ``"softmax"`` for a single-label one);
        preset: one of :data:`PRESETS`; layer: the CAM methods' layer (module or name);
        amortized: the network that predicts RISE's maps for ``classifier``.

    Example:
        >>> from captum_explainer.data import SYNTHETIC_NORMALIZATION
        >>> from captum_explainer.evaluation import default_methods
        >>> from captum_explainer.models import synthetic_classifier, synthetic_explainer
        >>> classifier, explainer = synthetic_classifier(), synthetic_explainer()
        >>> methods = default_methods(classifier, explainer, SYNTHETIC_NORMALIZATION)
        >>> [method.name for method in methods]
        ['Explainer', 'Grad-CAM', 'RISE', 'Integrated Gradients', 'FGVis', 'Undesirable pixels', 'Score-CAM']
    """
    models = Models(classifier, explainer, normalization, score, layer, amortized)
    return build_methods(models, None, preset, seed, settings)


def model_dependent_keys() -> tuple[str, ...]:
    """The keys of the methods whose maps are computed from the classifier at run time."""
    return tuple(r.key for r in method_records() if r.model_dependent)


def model_dependent_record(key: str) -> MethodRecord:
    """The record of ``key``, refused where randomising the classifier cannot change its maps."""
    record = method_record(key)
    if not record.model_dependent:
        raise ValueError(
            f"method {key!r} cannot be checked by randomising the classifier (its maps come "
            f"from its own network); choose from {list(model_dependent_keys())}, and check the "
            f"Explainer with --explainer-steps"
        )
    return record


def work_overrides(**work: int | None) -> dict[str, dict[str, int]]:
    """Per-key overrides that set every method's work count named by its ``work_arg``:
    ``work_overrides(n_masks=1000, n_iter=100)`` sets RISE's, Score-CAM's... masks and
    FGVis's iterations (``None`` leaves a count at its preset)."""
    return {
        r.key: {r.work_arg: work[r.work_arg]}
        for r in _RECORDS.values()
        if r.work_arg in work and work[r.work_arg] is not None
    }


def resolve_cam_layer(
    classifier: nn.Module, images: torch.Tensor, layer: nn.Module | TokenLayer | str | None
) -> nn.Module | TokenLayer:
    """The CAM layer the methods would use on ``images`` (for timing its passes)."""
    if isinstance(layer, str):
        return classifier.get_submodule(layer)
    return layer or default_layer(classifier) or last_spatial_layer(classifier, (images,))


def record_explain(
    record: MethodRecord,
    normalization: Normalization,
    preset: str = "sanity",
    score: str = "sigmoid",
    seed: int = 0,
    layer: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    explainer: nn.Module | None = None,
    amortized: nn.Module | None = None,
) -> Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]:
    """The method of ``record`` as ``(model, images, targets) -> (N, 1, H, W) maps``, rebuilt
    for whatever model it is given (a randomised copy included), with the record's
    ``sanity_kwargs`` and ``sanity_reduction``. ``layer``: the CAM layer's name, looked up in
    each model handed over; ``explainer``, ``amortized``: the trained networks of the
    methods that need one."""
    if record.needs_explainer and explainer is None:
        raise ValueError(f"method {record.key!r} needs explainer=, the trained Explainer network")
    if record.needs_amortized and amortized is None:
        raise ValueError(f"method {record.key!r} needs amortized=, its trained network")
    record.check_models(Models(nn.Identity(), explainer, normalization, score, layer, amortized))
    settings = {**record.settings(preset, seed, **(overrides or {})), **record.sanity_kwargs}

    def explain(model: nn.Module, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        models = Models(model, explainer, normalization, score, layer, amortized)
        maps = record.build(models).attribute(images, target=targets, **settings)
        return to_pixel_map(maps.detach(), record.sanity_reduction)

    return explain


# ---------------------------------------------------------------- the package's methods
# The network's one forward on the input in its own memory layout (the copy into it, and
# the maps' copy back to the standard layout, are the method's overhead).
def _explainer_passes(classifier, explainer, images, target, kwargs, layer) -> BarePasses:
    (images,) = like_network(explainer, (images,))
    return BarePasses(forward_passes(explainer, images, 1), "baseline: 1 Explainer forward")


def _amortized_passes(classifier, network, images, target, kwargs, layer) -> BarePasses:
    (images,) = like_network(network, (images,))
    return BarePasses(forward_passes(network, images, 1), "baseline: 1 network forward")


def _gradcam_passes(classifier, explainer, images, target, kwargs, layer) -> BarePasses:
    layer = resolve_cam_layer(classifier, images, layer)
    module = layer.module if isinstance(layer, TokenLayer) else layer
    return BarePasses(
        forward_backward_passes(classifier, images, 1, target, module),
        "baseline: 1 forward + backward to the layer",
    )


def _mask_passes(classifier, explainer, images, target, kwargs, layer) -> BarePasses:
    count = kwargs["n_masks"]
    per_pass = auto_batch(kwargs.get("perturbations_per_eval"), images.shape[0])
    # The first pass's masks, the method's own kind (see forward_chunks).
    masks = next(
        mask_batches(
            per_pass,
            per_pass,
            *images.shape[-2:],
            kwargs.get("grid_size", 7),
            kwargs.get("p_keep", 0.5),
            seed=kwargs.get("seed") or 0,
            device=images.device,
        )
    )
    return BarePasses(
        forward_chunks(classifier, images, count, per_pass, masks),
        f"baseline: {count} x {images.shape[0]} image forwards, {per_pass} x "
        f"{images.shape[0]} per pass",
    )


def _ig_passes(classifier, explainer, images, target, kwargs, layer) -> BarePasses:
    steps = kwargs["n_steps"]
    return BarePasses(
        forward_backward_passes(classifier, images.repeat_interleave(steps, 0), 1, target),
        f"baseline: forward + backward of {images.shape[0] * steps} images",
    )


def _fgvis_passes(classifier, explainer, images, target, kwargs, layer) -> BarePasses:
    iterations = kwargs["n_iter"]
    return BarePasses(
        in_sequence(
            forward_passes(classifier, images, 2),
            forward_backward_passes(classifier, images, iterations, target),
        ),
        f"baseline: 2 forwards (clean pass, last goal check) + {iterations} forward/backward",
    )


def _scorecam_passes(classifier, explainer, images, target, kwargs, layer) -> BarePasses:
    layer = resolve_cam_layer(classifier, images, layer)
    activations = layer_activations(classifier, layer, (images[:1],))[0]
    channels = activations.shape[1]
    per_pass, n = kwargs.get("perturbations_per_eval", 64), images.shape[0]
    # The first image masked by its own channel masks, as the method's passes see it (see
    # forward_chunks on why the images' content matters), repeated to fill a pass.
    masks = channel_masks(activations, images.shape[-2:])[0]
    picked = torch.arange(per_pass, device=images.device) % channels
    masked = images[:1] * masks[picked][:, None]
    return BarePasses(
        in_sequence(
            forward_passes(classifier, images, 1),
            forward_passes(classifier, masked, -(-n * channels // per_pass)),
        ),
        f"baseline: 1 forward + {n} x {channels} masked-image forwards, {per_pass} per pass",
    )


#: The presets of the mask-sampling methods (RISE, undesirable pixels).
_MASK_PRESETS = dict(
    demo=dict(n_masks=4000),
    quick=dict(n_masks=24),
    sanity=dict(n_masks=1000),
    benchmark=dict(n_masks=4000, perturbations_per_eval=64),
    large=dict(n_masks=256, perturbations_per_eval=32),
)

register_method(
    MethodRecord(
        key="explainer",
        name="Explainer",
        build=lambda m: ExplainerAttribution(m.explainer, m.classifier),
        presets=dict(demo={}, quick={}, sanity={}, benchmark={}, large={}),
        passes=_explainer_passes,
        scale="none",
        specificity=True,
        ranking=dict(output="logits"),
        model_dependent=False,
        needs_explainer=True,
        doc="the learned Explainer: every class's mask in one forward pass",
    )
)
register_method(
    MethodRecord(
        key="gradcam",
        name="Grad-CAM",
        build=lambda m: GradCAM(m.classifier, m.cam_layer()),
        presets=dict(demo={}, quick={}, sanity={}, benchmark={}, large={}),
        passes=_gradcam_passes,
        specificity=True,
        sanity_kwargs=dict(relu_attributions=False),
        in_demo_sanity=True,
        doc="Grad-CAM on the classifier's last spatial layer, upsampled",
    )
)
register_method(
    MethodRecord(
        key="rise",
        name="RISE",
        build=lambda m: RISE(m.classifier, score=m.score),
        presets=_MASK_PRESETS,
        passes=_mask_passes,
        seeded=True,
        work_arg="n_masks",
        specificity=True,
        benchmark_scaling=True,
        doc="RISE: the class score's expectation over random masks",
    )
)
register_method(
    MethodRecord(
        key="amortized-rise",
        name="Amortized RISE",
        build=lambda m: AmortizedAttribution(m.amortized, m.classifier, teacher="RISE"),
        presets=dict(demo={}, quick={}, sanity={}, benchmark={}, large={}),
        passes=_amortized_passes,
        specificity=True,
        model_dependent=False,
        needs_amortized=True,
        doc="RISE amortized: a network trained on RISE's maps predicts them in one pass",
    )
)
register_method(
    MethodRecord(
        key="integrated-gradients",
        name="Integrated Gradients",
        build=lambda m: IntegratedGradients(m.classifier),
        presets=dict(
            demo=dict(n_steps=32, internal_batch_size=256),
            quick=dict(n_steps=4),
            sanity=dict(n_steps=16),
            benchmark=dict(n_steps=50),
            large=dict(n_steps=16),
        ),
        passes=_ig_passes,
        work_arg="n_steps",
        map_kind="input",
        in_demo_sanity=True,
        doc="Integrated Gradients from the black image",
    )
)
register_method(
    MethodRecord(
        key="fgvis",
        name="FGVis",
        build=lambda m: FGVis(m.classifier, normalization=m.normalization, score=m.score),
        # The deletion game: on the shipped classifier the preservation game's masks are a
        # uniformly dimmed copy of the image (the sigmoid score is flat until it falls off a
        # cliff, so only the uniform L1 pull moves the mask); the deletion game's sit on the
        # objects' evidence (docs/methods/fgvis.md, "Which game the comparison plays").
        presets=dict(
            demo=dict(n_iter=300, game="deletion"),
            quick=dict(n_iter=3, game="deletion"),
            sanity=dict(n_iter=100, game="deletion"),
            # tol=0: no early stop, so the iteration count (and the baseline) is fixed.
            benchmark=dict(n_iter=300, tol=0.0, game="deletion"),
            large=dict(n_iter=10, tol=0.0, game="deletion"),
        ),
        passes=_fgvis_passes,
        work_arg="n_iter",
        needs=("normalization",),
        map_kind="input",
        # Its filter's indicator h(e) <= h(x) is exact, so the last-bit differences between
        # a batched and a single-image convolution flip a few neurons, and the optimisation
        # carries the flips on (in float64 they agree to 1e-9; tests/test_conformance.py).
        batch_tolerance=5e-3,
        # A deletion map ``1 - m`` holds the share of each value deleted, a few per cent at
        # most on the evidence: divided by its maximum, so that zero stays "not deleted" and
        # the figure can show where it deleted.
        scale="max",
        reduction="mean",
        sanity_reduction="mean",
        doc="FGVis: optimised, gradient-filtered deletion masks (the deletion game)",
    )
)
register_method(
    MethodRecord(
        key="undesirable",
        name="Undesirable pixels",
        build=lambda m: UndesirablePixels(m.classifier, score=m.score),
        presets=_MASK_PRESETS,
        passes=_mask_passes,
        seeded=True,
        work_arg="n_masks",
        labels_as="present",
        # Their maps show what *hinders* a class, not where it is, and a run per class
        # would cost K times the masks.
        per_class=False,
        doc="undesirable pixels: what lowers a class against its competitors",
    )
)
register_method(
    MethodRecord(
        key="scorecam",
        name="Score-CAM",
        build=lambda m: ScoreCAM(m.classifier, m.cam_layer(), score=m.score),
        presets=dict(
            demo=dict(perturbations_per_eval=128),
            quick=dict(perturbations_per_eval=64),
            sanity=dict(perturbations_per_eval=128),
            benchmark=dict(perturbations_per_eval=64),
            large=dict(perturbations_per_eval=32),
        ),
        passes=_scorecam_passes,
        specificity=True,
        # Its map sums hundreds of channels with near-equal weights, whose cancellation
        # lifts the float32 rounding of the masked passes (batched differently) to ~1e-3 of
        # the map's range; in float64 the two agree to 1e-15 (tests/test_scorecam.py).
        batch_tolerance=1e-3,
        doc="Score-CAM: the layer's channels as masks, weighted by the class score they keep",
    )
)


# ---------------------------------------------------------------- the tables of 0.3
def __getattr__(name: str) -> Any:
    """``METHOD_NAMES``, ``SPECIFICITY_METHODS`` and ``DEMO_SETTINGS`` of version 0.3,
    derived from the records (deprecated: use :func:`method_records`)."""
    views = {
        "METHOD_NAMES": lambda: {r.key: r.name for r in method_records()},
        "SPECIFICITY_METHODS": lambda: tuple(r.name for r in method_records() if r.specificity),
        "DEMO_SETTINGS": lambda: {r.name: dict(r.presets["demo"]) for r in method_records()},
    }
    if name in views:
        warnings.warn(
            f"{name} is deprecated and will be removed in 0.5; use method_records()",
            DeprecationWarning,
            stacklevel=2,
        )
        return views[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
