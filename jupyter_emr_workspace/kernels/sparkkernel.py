"""`python -m jupyter_emr_workspace.kernels.sparkkernel`: sparkmagic's Spark (Scala) kernel with
Workspace cluster hints (see `cluster_hints`)."""

try:
    from sparkmagic.kernels.sparkkernel.sparkkernel import SparkKernel
except ImportError as missing:  # no `spark` extra: one clear message (missing_spark.py)
    if __name__ == "__main__":
        from .missing_spark import run

        run("Spark (EMR Workspace)", "spark", missing)
        raise SystemExit(0) from None
    raise

from .cluster_hints import hinting, launch

WorkspaceSparkKernel = hinting(SparkKernel)

if __name__ == "__main__":
    launch(WorkspaceSparkKernel)
