"""Moved to `compute/sources/local.py`; this name stays an alias of it for existing imports."""

import sys

from .sources import local

sys.modules[__name__] = local
