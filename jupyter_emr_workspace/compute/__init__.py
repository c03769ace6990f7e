"""Compute: where a Workspace's Spark runs (EMR on EC2, EMR on EKS,
EMR Serverless, the embedded engine).

Sources list clusters and resolve one to a Livy endpoint; `service.ComputeService` attaches
Workspaces to them and wires sparkmagic; `part.py` plugs it into the server.
"""
