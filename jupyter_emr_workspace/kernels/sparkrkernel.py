"""`python -m jupyter_emr_workspace.kernels.sparkrkernel`: sparkmagic's SparkR kernel with
Workspace cluster hints (see `cluster_hints`)."""

from sparkmagic.kernels.sparkrkernel.sparkrkernel import SparkRKernel

from .cluster_hints import hinting, launch

WorkspaceSparkRKernel = hinting(SparkRKernel)

if __name__ == "__main__":
    launch(WorkspaceSparkRKernel)
