# Shared by scripts/lab.sh and scripts/test.sh: system packages and the Python environment.
# Sourced, not run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Debian packages the project needs and pip/npm cannot bring: Java 17 (the local Spark
# engine), libkrb5-dev (sparkmagic's requests-kerberos builds gssapi from source) and,
# for the UI tests, Chromium (Playwright's own browser download does not work offline).
ensure_system_packages() {
  local want=()
  command -v java >/dev/null 2>&1 || want+=(openjdk-17-jre-headless)
  command -v krb5-config >/dev/null 2>&1 || want+=(libkrb5-dev)
  if [ "${1:-}" = "--with-browser" ] && [ ! -x /usr/bin/chromium ]; then
    want+=(chromium)
  fi
  [ ${#want[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      log "Missing system packages: ${want[*]}. Install them (apt-get install ${want[*]}) and rerun."
      return 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    log "Missing system packages: ${want[*]}; install them with your system's package manager."
    return 1
  fi
  log "Installing system packages: ${want[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${want[@]}"
}

# Use the active virtualenv, or create .venv in the repository.
ensure_venv() {
  if [ -n "${VIRTUAL_ENV:-}" ]; then
    PY="$VIRTUAL_ENV/bin/python"
  else
    if [ ! -x "$ROOT/.venv/bin/python" ]; then
      log "Creating $ROOT/.venv"
      python3 -m venv "$ROOT/.venv"
    fi
    # shellcheck disable=SC1091
    . "$ROOT/.venv/bin/activate"
    PY="$ROOT/.venv/bin/python"
  fi
  export PY
  "$PY" -m pip install -q --upgrade pip >/dev/null
}

# Install the package (building the frontend with jlpm) with the given extras.
install_package() {
  local extras="$1"
  log "Installing jupyter-emr-workspace[$extras] (builds the frontend)"
  ( cd "$ROOT" && "$PY" -m pip install -q -e ".[$extras]" )
}

# jupyter_server's own contents tests (tests/test_stock_contents.py runs them against our
# contents manager) are not in its wheel: copy them from the sdist of the installed release
# into .cache/jupyter-server-tests/<version>/ once; the tests fetch nothing when they run.
fetch_jupyter_server_tests() {
  local version dest tmp
  version="$("$PY" -c 'import jupyter_server; print(jupyter_server.__version__)')"
  dest="$ROOT/.cache/jupyter-server-tests/$version"
  [ -f "$dest/tests/services/contents/test_manager.py" ] && return 0
  log "jupyter_server $version's own tests (from its sdist, for tests/test_stock_contents.py)"
  tmp="$(mktemp -d)"
  "$PY" -m pip download -q --no-deps --no-binary :all: "jupyter_server==$version" -d "$tmp"
  mkdir -p "$tmp/x" "$(dirname "$dest")"
  tar -xzf "$tmp/jupyter_server-$version.tar.gz" -C "$tmp/x" --strip-components=1 \
    "jupyter_server-$version/tests" "jupyter_server-$version/pyproject.toml"
  rm -rf "$dest" && mv "$tmp/x" "$dest" && rm -rf "$tmp"
}
