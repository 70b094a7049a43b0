"""The method registry: the record type, and registering, looking up and building methods
by key.

A :class:`MethodRecord` says everything the applications need of a method: its key (the one
spelling, used on the command line and in tests), its display name (the report's column),
how to build its Captum attribution object for a model, its cost presets and its traits
(map kind and scale, per-class support, dependence on the model, the bare model passes the
benchmark times it against, the behaviours that differ by method). The demo, ``evaluate``,
``compare``, ``explain``, the sanity checks, the Quantus bridge, the benchmark and the tests
iterate over :func:`method_records`, so a registered method appears in all of them. The
package's own records live one per file in :mod:`captum_explainer.evaluation.methods`; a
user's are registered the same way, with :func:`register_method` (docs/architecture.md,
"How to add a method").

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

from captum_explainer.attr._cam import TokenLayer, resolve_layer
from captum_explainer.data.types import Normalization
from captum_explainer.evaluation.timing import BarePasses
from captum_explainer.maps import to_pixel_map

#: The cost presets every record defines: ``demo`` (the demo, ``evaluate``, ``compare``),
#: ``quick`` (tests, CI), ``sanity`` (the randomisation checks, which explain each image
#: once per randomised layer), ``benchmark`` (the small CNN's cost table) and ``large``
#: (the benchmark of a 224 px model on a CPU: fewer masks and iterations, since per-pass
#: overheads do not depend on their number).
PRESETS = ("demo", "quick", "sanity", "benchmark", "large")

#: Where a record's column stands when it does not say (after the package's own).
DEFAULT_COLUMN = 100


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


def with_shorthands(
    networks: Mapping[str, Any] | None, explainer: Any = None, amortized: Any = None
) -> dict[str, Any]:
    """``networks`` (key -> network or checkpoint path) with 0.3's two shorthands folded in:
    ``explainer`` is ``networks["explainer"]``, ``amortized`` ``networks["amortized-rise"]``
    (a key given in ``networks`` wins).

    Example:
        >>> from captum_explainer.evaluation.registry import with_shorthands
        >>> with_shorthands({"mine": "a.pt"}, explainer="b.pt")
        {'mine': 'a.pt', 'explainer': 'b.pt'}
    """
    merged = dict(networks or {})
    for key, network in (("explainer", explainer), ("amortized-rise", amortized)):
        if network is not None:
            merged.setdefault(key, network)
    return merged


@dataclass(frozen=True, init=False)
class Models:
    """What a record builds its method from.

    Args:
        classifier: the explained model (or whatever model a sanity check hands over).
        explainer: shorthand for ``networks["explainer"]``, the trained Explainer (0.3's
            keyword, kept).
        normalization: the images' normalisation (FGVis's black reference).
        score: the score black-box and optimisation methods explain (``"sigmoid"`` for a
            multi-label classifier, ``"softmax"`` for a single-label one).
        layer: the layer of the CAM methods: a module, its name in ``classifier``
            (``"layer3"``), or ``None`` to find it (see :class:`~captum_explainer.attr.GradCAM`).
        amortized: shorthand for ``networks["amortized-rise"]``, the network trained to
            predict RISE's maps (0.3's keyword, kept).
        networks: the methods' own trained networks, by the key their record names
            (:attr:`MethodRecord.network`): one mapping, whatever methods are registered.

    Example:
        >>> from captum_explainer.evaluation import Models, build_methods
        >>> from captum_explainer.models import synthetic_classifier, synthetic_explainer
        >>> models = Models(synthetic_classifier(), networks={"explainer": synthetic_explainer()})
        >>> [method.name for method in build_methods(models, ["explainer", "gradcam"])]
        ['Explainer', 'Grad-CAM']
    """

    classifier: nn.Module
    normalization: Normalization | None
    score: str
    layer: nn.Module | TokenLayer | str | None
    networks: Mapping[str, nn.Module]

    def __init__(
        self,
        classifier: nn.Module,
        explainer: nn.Module | None = None,
        normalization: Normalization | None = None,
        score: str = "sigmoid",
        layer: nn.Module | TokenLayer | str | None = None,
        amortized: nn.Module | None = None,
        networks: Mapping[str, nn.Module | None] | None = None,
    ) -> None:
        merged = with_shorthands(networks, explainer, amortized)
        object.__setattr__(self, "classifier", classifier)
        object.__setattr__(self, "normalization", normalization)
        object.__setattr__(self, "score", score)
        object.__setattr__(self, "layer", layer)
        object.__setattr__(self, "networks", {k: v for k, v in merged.items() if v is not None})

    @property
    def explainer(self) -> nn.Module | None:
        """The trained Explainer, ``networks["explainer"]`` (``None`` without one)."""
        return self.networks.get("explainer")

    @property
    def amortized(self) -> nn.Module | None:
        """The amortized RISE network, ``networks["amortized-rise"]``."""
        return self.networks.get("amortized-rise")

    def network(self, key: str | None) -> nn.Module | None:
        """The trained network under ``key`` (``None`` for ``key=None`` or none there)."""
        return None if key is None else self.networks.get(key)

    def cam_layer(self, images: torch.Tensor | None = None) -> nn.Module | TokenLayer | None:
        """The CAM methods' layer as a module (:func:`~captum_explainer.attr._cam.resolve_layer`:
        a name looked up in whatever classifier this is; ``None`` found from ``images``
        where given, else left to the method)."""
        return resolve_layer(self.classifier, self.layer, images)


#: The traits a record hands to the :class:`MethodSpec` it builds.
SPEC_TRAITS = (
    "scale",
    "reduction",
    "all_classes",
    "labels_as",
    "per_class",
    "specificity",
    "ranking",
)

#: ``(models, images, target, kwargs) -> BarePasses``: the model passes a method cannot
#: avoid, which the benchmark times beside it (its own trained network, where it has one,
#: is ``models.network(record.network)``).
PassesFn = Callable[[Models, torch.Tensor, int, dict[str, Any]], BarePasses]


@dataclass(frozen=True)
class MethodRecord:
    """Everything the package knows of one method.

    Args:
        key: the one spelling: command-line name, table key, test id.
        name: the display name (the report's column).
        build: ``Models -> attribution object``.
        presets: keyword arguments of ``attribute`` for each of :data:`PRESETS`.
        passes: the bare model passes the benchmark times the method against.
        seeded: its ``attribute`` takes ``seed`` (random masks): the run's seed is passed.
        work_arg: the keyword that counts its work (``n_masks``, ``n_steps``, ``n_iter``),
            which the commands' ``--work KEY=N`` and the benchmark's scaling check set.
        work_unit: what ``work_arg`` counts, for tables (``"masks"``; default the keyword).
        scale, reduction, all_classes, labels_as, per_class, specificity, ranking: as
            :class:`MethodSpec` (map kind and scale, per-class support, the ranking map).
        model_dependent: its maps are computed from the classifier at run time, so
            randomising the classifier must change them (the sanity checks). The Explainer's
            come from its own network and need another test.
        network: the key in :attr:`Models.networks` of the trained network it needs
            (``None``: it needs none); without it the method is left out of the default
            lists, and asked for by name it raises.
        load_network: ``(path, device) -> network``: how the commands read that network
            from a checkpoint (``--network KEY=PATH``).
        shipped_network: ``(device) -> network``: the network shipped for the synthetic
            classifier, used with it when none is given (``None``: none shipped).
        needs: the other fields of :class:`Models` it is built from that have no default
            (FGVis: ``("normalization",)``, its black reference); building it from models
            without one raises a ``ValueError`` naming the field and the method.
        sanity_kwargs: ``attribute`` arguments for the randomisation checks (Grad-CAM keeps
            the negative part there: a randomised model's ReLU'd maps are often all zero).
        sanity_reduction: how its maps become one value per pixel in those checks.
        in_demo_sanity: cheap enough for the demo's sanity section.
        in_default_sanity: checked by the sanity command when no method is named (model-
            dependent methods only; the slow optimisation and mask methods say no).
        map_kind: ``"pixel"`` (its ``attribute`` gives ``(N, 1, H, W)``) or ``"input"``
            (the input's shape, reduced per pixel by ``reduction``).
        batch_tolerance: how far a batched map may lie from the same image's map computed
            alone (Captum's generated tests use 1e-4; FGVis needs more, see its record).
        benchmark_scaling: the benchmark also runs it at other work counts and warns when
            its time does not grow with them.
        blur_reference: the sharpness control blurs every map to this method's roughness
            (one record says so: Grad-CAM's).
        time_reference: the report gives every method's time relative to this one's.
        explain_default: the method ``explain`` runs when none is named.
        leakage_check: the demo checks its masks for leakage (a mask's shape alone telling
            the class: the Explainer's).
        recovery_check: the demo measures how much class score removing its pixels
            recovers (the undesirable-pixel maps').
        column: where its column stands in the reports (lower first; ties in registration
            order); the package's methods take 10-80, a user's default
            :data:`DEFAULT_COLUMN`.
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
    work_unit: str | None = None
    scale: str = "minmax"
    reduction: str = "abs_sum"
    all_classes: bool = True
    labels_as: str | None = None
    per_class: bool = True
    specificity: bool = False
    ranking: Mapping[str, Any] | None = None
    model_dependent: bool = True
    network: str | None = None
    load_network: Callable[[Any, Any], nn.Module] | None = None
    shipped_network: Callable[[Any], nn.Module] | None = None
    needs: tuple[str, ...] = ()
    sanity_kwargs: Mapping[str, Any] = field(default_factory=dict)
    sanity_reduction: str = "sum"
    in_demo_sanity: bool = False
    in_default_sanity: bool = True
    benchmark_scaling: bool = False
    map_kind: str = "pixel"
    batch_tolerance: float = 1e-4
    blur_reference: bool = False
    time_reference: bool = False
    explain_default: bool = False
    leakage_check: bool = False
    recovery_check: bool = False
    column: int = DEFAULT_COLUMN
    doc: str = ""

    def __post_init__(self) -> None:
        missing = [p for p in PRESETS if p not in self.presets]
        if missing:
            raise ValueError(f"method {self.key!r} lacks the presets {missing}")
        fields = ("classifier", "normalization", "score", "layer")
        unknown = [name for name in self.needs if name not in fields]
        if unknown:
            raise ValueError(
                f"method {self.key!r}: needs names {unknown}, which are not fields of Models "
                f"({list(fields)}); a trained network is named by network="
            )

    @property
    def needs_explainer(self) -> bool:
        """0.3's flag: it needs the Explainer network (``network == "explainer"``)."""
        return self.network == "explainer"

    @property
    def needs_amortized(self) -> bool:
        """0.3's flag: it needs the amortized network (``network == "amortized-rise"``)."""
        return self.network == "amortized-rise"

    @property
    def unit(self) -> str:
        """What its work count counts, for tables: :attr:`work_unit`, else the keyword."""
        return self.work_unit or self.work_arg or ""

    def check_models(self, models: Models) -> None:
        """A ``ValueError`` naming the method and the first thing of ``models`` it needs and
        lacks (its trained network, or one of :attr:`needs`)."""
        if self.network is not None and models.network(self.network) is None:
            raise ValueError(
                f"method {self.key!r} needs its trained network, Models.networks"
                f"[{self.network!r}] (--network {self.network}=PATH"
                + (", or --explainer" if self.network == "explainer" else "")
                + (", or --amortized" if self.network == "amortized-rise" else "")
                + ")"
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
        try:
            self.check_models(models)
        except ValueError:
            return False
        return True

    def own_network(self, models: Models) -> nn.Module | None:
        """The method's own trained network in ``models`` (``None`` for the others)."""
        return models.network(self.network)

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
        traits = {name: getattr(self, name) for name in SPEC_TRAITS}
        traits["ranking"] = dict(self.ranking) if self.ranking is not None else None
        return MethodSpec(
            self.name,
            self.build(models),
            self.settings(preset, seed, **(overrides or {})),
            **traits,
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
    return tuple(sorted(_RECORDS.values(), key=lambda r: r.column))


def records_with(trait: str) -> tuple[MethodRecord, ...]:
    """The records whose boolean ``trait`` is set (``"leakage_check"``, ``"blur_reference"``,
    ...): how the applications find the methods a behaviour applies to, without a name.

    Example:
        >>> from captum_explainer.evaluation.registry import records_with
        >>> [record.key for record in records_with("blur_reference")]
        ['gradcam']
    """
    return tuple(r for r in method_records() if getattr(r, trait))


def refuse_unknown(keys: Sequence[str], known: Sequence[str], what: str) -> None:
    """A ``ValueError`` naming the first of ``keys`` that is not ``known`` (``what``: the
    option or argument, ``"--work"``), and what the methods know."""
    unknown = [key for key in keys if key not in known]
    if unknown:
        raise ValueError(
            f"{what} {unknown[0]!r}: no registered method uses it; they use {sorted(known)}"
        )


def time_reference() -> str | None:
    """The display name of the method the reports give every time relative to."""
    return next((r.name for r in records_with("time_reference")), None)


def method_keys() -> tuple[str, ...]:
    """The keys of every registered method.

    Example:
        >>> from captum_explainer.evaluation import method_keys
        >>> method_keys()[:4]
        ('explainer', 'gradcam', 'rise', 'amortized-rise')
    """
    return tuple(r.key for r in method_records())


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
        records = [r for r in method_records() if r.available(models)]
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


def default_sanity_keys() -> tuple[str, ...]:
    """The methods the sanity checks run when none is named: every model-dependent record
    that is not too slow for them (:attr:`MethodRecord.in_default_sanity`)."""
    return tuple(r.key for r in method_records() if r.model_dependent and r.in_default_sanity)


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
        for r in method_records()
        if r.work_arg in work and work[r.work_arg] is not None
    }


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
    networks: Mapping[str, nn.Module] | None = None,
) -> Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]:
    """The method of ``record`` as ``(model, images, targets) -> (N, 1, H, W) maps``, rebuilt
    for whatever model it is given (a randomised copy included), with the record's
    ``sanity_kwargs`` and ``sanity_reduction``. ``layer``: the CAM layer's name, looked up in
    each model handed over; ``networks`` (or the shorthands ``explainer``, ``amortized``):
    the trained networks of the methods that need one."""
    networks = {**(networks or {})}
    record.check_models(
        Models(nn.Identity(), explainer, normalization, score, layer, amortized, networks)
    )
    settings = {**record.settings(preset, seed, **(overrides or {})), **record.sanity_kwargs}

    def explain(model: nn.Module, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        models = Models(model, explainer, normalization, score, layer, amortized, networks)
        maps = record.build(models).attribute(images, target=targets, **settings)
        return to_pixel_map(maps.detach(), record.sanity_reduction)

    return explain


# ---------------------------------------------------------------- the tables of 0.3
def __getattr__(name: str) -> Any:
    """``METHOD_NAMES``, ``SPECIFICITY_METHODS`` and ``DEMO_SETTINGS`` of version 0.3,
    derived from the records (deprecated: use :func:`method_records`), and 0.3's
    ``resolve_cam_layer`` (deprecated: ``Models(classifier, layer=...).cam_layer(images)``)."""
    views = {
        "METHOD_NAMES": lambda: {r.key: r.name for r in method_records()},
        "SPECIFICITY_METHODS": lambda: tuple(r.name for r in method_records() if r.specificity),
        "DEMO_SETTINGS": lambda: {r.name: dict(r.presets["demo"]) for r in method_records()},
        # 0.3's second spelling of the CAM layer lookup; one lookup since 0.4.
        "resolve_cam_layer": lambda: (
            lambda classifier, images, layer: resolve_layer(classifier, layer, images)
        ),
    }
    if name in views:
        instead = (
            "Models(classifier, layer=layer).cam_layer(images)"
            if name == "resolve_cam_layer"
            else "method_records()"
        )
        warnings.warn(
            f"{name} is deprecated and will be removed in 0.5; use {instead}",
            DeprecationWarning,
            stacklevel=2,
        )
        return views[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
