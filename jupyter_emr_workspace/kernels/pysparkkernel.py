"""`python -m jupyter_emr_workspace.kernels.pysparkkernel`: sparkmagic's PySpark kernel with
Workspace cluster hints (see `cluster_hints`)."""

from sparkmagic.kernels.pysparkkernel.pysparkkernel import PySparkKernel

from .cluster_hints import hinting, launch

WorkspacePySparkKernel = hinting(PySparkKernel)

if __name__ == "__main__":
    launch(WorkspacePySparkKernel)
