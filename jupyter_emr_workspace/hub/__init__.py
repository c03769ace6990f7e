"""JupyterHub support: share a Workspace's server with its collaborators, guard rooms."""
