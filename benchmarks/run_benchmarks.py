"""Benchmark every method: the same as `captum-explainer benchmark`.

    python benchmarks/run_benchmarks.py --models small_cnn resnet50 --out benchmarks/results.json

See docs/performance.md for what is measured and the last results.
"""

import sys

from captum_explainer.cli import main

if __name__ == "__main__":
    sys.exit(main(["benchmark", *sys.argv[1:]]))
