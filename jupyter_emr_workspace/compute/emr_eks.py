"""Moved to `compute/sources/emr_eks.py`; this name stays an alias of it for existing imports."""

import sys

from .sources import emr_eks

sys.modules[__name__] = emr_eks
