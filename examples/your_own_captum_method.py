"""Score a Captum method of your own (here Occlusion) beside the package's Grad-CAM.

python examples/your_own_captum_method.py
"""

from captum.attr import NoiseTunnel, Occlusion

from captum_explainer import GradCAM
from captum_explainer.compare import MethodSpec, compare
from captum_explainer.data import SyntheticScenes, collate_items
from captum_explainer.models import synthetic_classifier


def main() -> None:
    model = synthetic_classifier()
    data = SyntheticScenes(6, split="test", seed=7)
    images, labels, segmentation = collate_items([data[i] for i in range(len(data))])
    methods = [
        MethodSpec("Grad-CAM", GradCAM(model)),
        MethodSpec("SmoothGrad-CAM", NoiseTunnel(GradCAM(model)), dict(nt_samples=4, stdevs=0.2)),
        MethodSpec(
            "Occlusion", Occlusion(model), dict(sliding_window_shapes=(3, 8, 8), strides=(3, 4, 4))
        ),
    ]
    print(compare(methods, images, labels, segmentation).to_markdown())


if __name__ == "__main__":
    main()
