"""Moved to `compute/sources/emr_ec2.py`; this name stays an alias of it for existing imports."""

import sys

from .sources import emr_ec2

sys.modules[__name__] = emr_ec2
