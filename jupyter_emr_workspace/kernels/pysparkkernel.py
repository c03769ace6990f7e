"""`python -m jupyter_emr_workspace.kernels.pysparkkernel`: sparkmagic's PySpark kernel with
Workspace cluster hints (see `cluster_hints`)."""

try:
    from sparkmagic.kernels.pysparkkernel.pysparkkernel import PySparkKernel
except ImportError as missing:  # no `spark` extra: one clear message (missing_spark.py)
    if __name__ == "__main__":
        from .missing_spark import run

        run("PySpark (EMR Workspace)", "pyspark", missing)
        raise SystemExit(0) from None
    raise

from .cluster_hints import hinting, launch

WorkspacePySparkKernel = hinting(PySparkKernel)

if __name__ == "__main__":
    launch(WorkspacePySparkKernel)
