"""``python -m captum_explainer``: the same as the ``captum-explainer`` command."""

import sys

from captum_explainer.cli import main

sys.exit(main())
