"""`make soak`: a seeded random workload under faults and process kills (see :mod:`tools.soak.run`)."""

from tools.soak.report import SoakConfig, SoakReport
from tools.soak.run import main, run_soak

__all__ = ["SoakConfig", "SoakReport", "main", "run_soak"]
