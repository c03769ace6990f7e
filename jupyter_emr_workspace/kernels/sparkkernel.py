"""`python -m jupyter_emr_workspace.kernels.sparkkernel`: sparkmagic's Spark (Scala) kernel with
Workspace cluster hints (see `cluster_hints`)."""

from sparkmagic.kernels.sparkkernel.sparkkernel import SparkKernel

from .cluster_hints import hinting, launch

WorkspaceSparkKernel = hinting(SparkKernel)

if __name__ == "__main__":
    launch(WorkspaceSparkKernel)
