#!/usr/bin/env bash
# Start JupyterLab with the extension on the embedded default: Workspaces and backups in
# a local folder, the local Spark engine for compute. No AWS account needed.
#   scripts/lab.sh [extra jupyter lab arguments]
set -euo pipefail
. "$(dirname "$0")/_env.sh"
ensure_system_packages
ensure_venv
install_package "spark,local"
mkdir -p "$ROOT/.lab"
log "Starting JupyterLab in $ROOT/.lab (Workspaces under workspaces/)"
cd "$ROOT/.lab"
extra=()
[ "$(id -u)" = "0" ] && extra+=(--allow-root)   # containers and CI machines run as root
exec "$(dirname "$PY")/jupyter" lab "${extra[@]}" "$@"
