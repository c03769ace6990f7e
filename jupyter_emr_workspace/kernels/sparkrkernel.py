"""`python -m jupyter_emr_workspace.kernels.sparkrkernel`: sparkmagic's SparkR kernel with
Workspace cluster hints (see `cluster_hints`)."""

try:
    from sparkmagic.kernels.sparkrkernel.sparkrkernel import SparkRKernel
except ImportError as missing:  # no `spark` extra: one clear message (missing_spark.py)
    if __name__ == "__main__":
        from .missing_spark import run

        run("SparkR (EMR Workspace)", "sparkr", missing)
        raise SystemExit(0) from None
    raise

from .cluster_hints import hinting, launch

WorkspaceSparkRKernel = hinting(SparkRKernel)

if __name__ == "__main__":
    launch(WorkspaceSparkRKernel)
