"""Classifiers whose output is not a plain logits tensor: Hugging Face models and the like.

A Hugging Face ``transformers`` classifier returns an output object whose ``.logits`` holds
the ``(N, K)`` scores; other models return a dict with ``"logits"`` or a tuple whose first
element is them. The package's methods and its Explainer training read the logits out of
such outputs by :func:`output_logits`; :func:`logits_of` wraps a model so that anything that
expects a plain tensor (Captum's own methods, a user's code) gets one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn


def output_logits(output: Any) -> Any:
    """The logits in a model's ``output``: a tensor as it is; an object's ``.logits`` (a
    Hugging Face ``ModelOutput``); a mapping's ``"logits"``; a tuple's or list's first
    element. Anything else comes back unchanged, for the caller's check to name.

    Example:
        >>> import torch
        >>> from captum_explainer.models import output_logits
        >>> logits = torch.zeros(2, 5)
        >>> output_logits({"logits": logits}) is logits, output_logits((logits, "extra")) is logits
        (True, True)
    """
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, Mapping) and "logits" in output:
        return output["logits"]
    logits = getattr(output, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    return output


class LogitsOf(nn.Module):
    """``model`` returning its logits tensor (see :func:`output_logits`).

    The wrapped model stays reachable as ``.model``, so its layers (e.g. Grad-CAM's) and its
    parameters are the same objects; ``train()``/``eval()`` reach it as for any submodule.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from captum_explainer.models import LogitsOf
        >>> class DictModel(nn.Module):  # returns {"logits": ...} like many libraries' models
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc = nn.Linear(4, 3)
        ...     def forward(self, x):
        ...         return {"logits": self.fc(x)}
        >>> model = LogitsOf(DictModel())
        >>> model(torch.rand(2, 4)).shape, model.model.fc is model.model.fc
        (torch.Size([2, 3]), True)
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return output_logits(self.model(*args, **kwargs))


def logits_of(model: nn.Module) -> nn.Module:
    """``model`` wrapped to return its ``(N, K)`` logits tensor (once: a wrapped model is
    returned as it is).

    Example:
        >>> import torch
        >>> from captum.attr import IntegratedGradients
        >>> from captum_explainer.models import logits_of, synthetic_classifier
        >>> class DictModel(torch.nn.Module):  # returns {"logits": ...}, as many models do
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.net = synthetic_classifier()
        ...     def forward(self, x):
        ...         return {"logits": self.net(x)}
        >>> ig = IntegratedGradients(logits_of(DictModel()))  # Captum needs the tensor
        >>> ig.attribute(torch.rand(2, 3, 64, 64), target=1, n_steps=4).shape
        torch.Size([2, 3, 64, 64])

        A Hugging Face classifier (``ViTForImageClassification`` and the like) is wrapped the
        same way: ``IntegratedGradients(logits_of(vit))``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    return model if isinstance(model, LogitsOf) else LogitsOf(model)
