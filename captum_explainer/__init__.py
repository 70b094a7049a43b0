"""captum-explainer: class-specific explanations for image classifiers, as a Captum plugin."""

__version__ = "0.1.0"

from captum_explainer.data import SyntheticScenes  # noqa: E402

__all__ = ["SyntheticScenes", "__version__"]
