"""Can the embedded engine run here? Checked once, so the cluster list can say why not."""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess

JAVA_HINT = "install openjdk-17-jre-headless (or set JAVA_HOME to a Java 17 installation)"


def find_java() -> str | None:
    """The java binary PySpark's launcher will use: `$JAVA_HOME/bin/java`, else `java` on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = os.path.join(home, "bin", "java")
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("java")


def java_major_version(java: str) -> int | None:
    """Major version from `java -version` (1.8 -> 8, 17.0.15 -> 17); None when it cannot run."""
    try:
        proc = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', proc.stderr + proc.stdout)
    if not match:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2):
        major = int(match.group(2))
    return major


def _required_java(pyspark_version: str) -> int:
    """Spark 4 runs on Java 17+; Spark 3.x also on 8 and 11."""
    try:
        return 17 if int(pyspark_version.split(".")[0]) >= 4 else 8
    except ValueError:
        return 17


@functools.lru_cache(maxsize=1)
def engine_unavailable_reason() -> str | None:
    """Why the local engine cannot start here, or None when it can.

    Runs `java -version` once (about 0.1 s) and caches the answer; call it from a
    thread (`asyncio.to_thread`) when on an event loop. `cache_clear()` re-checks.
    """
    if importlib.util.find_spec("pyspark") is None:
        return (
            "PySpark is not installed: install it with "
            "`pip install 'jupyter-emr-workspace[local]'` (it also needs Java 17)"
        )
    try:
        pyspark_version = importlib.metadata.version("pyspark")
    except importlib.metadata.PackageNotFoundError:
        pyspark_version = "4"
    java = find_java()
    if java is None:
        return f"Java 17 not found on PATH: {JAVA_HINT}"
    major = java_major_version(java)
    if major is None:
        return f"{java} did not run (`java -version` failed): {JAVA_HINT}"
    required = _required_java(pyspark_version)
    if major < required:
        return (
            f"PySpark {pyspark_version} needs Java {required} or newer but {java} is "
            f"Java {major}: {JAVA_HINT}"
        )
    return None
