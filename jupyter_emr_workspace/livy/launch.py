"""What a Livy session request means locally: kinds, Spark settings, process environment.

Pure functions, so the mapping from Livy's request fields to a local-mode SparkSession can be
read (and tested) without starting Spark.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from .errors import LivyError

FAST_JVM_FLAGS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
KIND_ALIASES = {
    "pyspark": "pyspark",
    "python": "pyspark",
    "pyspark3": "pyspark",
    "sql": "sql",
    "spark": "spark",  # Scala, through Spark's own REPL classes (scala.py)
    "scala": "spark",
}
R_KINDS = frozenset({"sparkr", "r"})
# Livy request fields that map onto Spark settings.
_CONF_FIELDS = {
    "driverMemory": "spark.driver.memory",
    "driverCores": "spark.driver.cores",
    "executorMemory": "spark.executor.memory",
    "executorCores": "spark.executor.cores",
    "numExecutors": "spark.executor.instances",
    "queue": "spark.yarn.queue",
}
_LIST_FIELDS = {
    "jars": "spark.jars",
    "pyFiles": "spark.submit.pyFiles",
    "files": "spark.files",
    "archives": "spark.archives",
}
DEFAULT_SPARK_CONF = {
    "spark.ui.showConsoleProgress": "false",  # carriage-return bars only clutter the log
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}


def normalize_kind(kind: Any, where: str) -> str:
    """Map a Livy kind to what the local engine runs, or explain why it cannot."""
    value = str(kind).lower()
    if value in KIND_ALIASES:
        return KIND_ALIASES[value]
    if value in R_KINDS:
        raise LivyError(400, sparkr_unavailable(where, kind), "UnsupportedKind")
    raise LivyError(
        400, f"Unknown {where.lower()} kind '{kind}': use pyspark, spark or sql.", "BadKind"
    )


def sparkr_unavailable(where: str, kind: Any, rscript: str | None = None) -> str:
    """Why an R session cannot run here, naming what is missing."""
    found = rscript if rscript is not None else shutil.which("Rscript")
    if not found:
        return (
            f"{where} kind '{kind}' needs R, which is not installed on this server "
            "(no 'Rscript' on the PATH of the Jupyter server). Install R (for example "
            "'apt-get install r-base') and restart the server, or attach the Workspace to "
            "an EMR cluster for SparkR. PySpark and Scala (spark) run on the local engine."
        )
    return (
        f"{where} kind '{kind}' is not supported by the local engine (R is installed at "
        f"{found}, but the engine runs PySpark, Scala and SQL only). Attach the Workspace "
        "to an EMR cluster for SparkR."
    )


def module_command(module: str, *args: str, python: str | None = None) -> list[str]:
    """`python -m module args` that also works from a source tree that is not installed."""
    root = str(Path(__file__).resolve().parents[2])
    bootstrap = (
        "import runpy, sys\n"
        f"if {root!r} not in sys.path: sys.path.append({root!r})\n"
        f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)"
    )
    return [python or sys.executable, "-c", bootstrap, *args]


def spark_conf_for(
    body: dict[str, Any], session_id: int, defaults: dict[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """Spark settings for a POST /sessions body; returns (conf, notes for the session log)."""
    conf = {**DEFAULT_SPARK_CONF, **(defaults or {})}
    notes: list[str] = []
    conf["spark.app.name"] = str(body.get("name") or f"livy-session-{session_id}")
    for key, spark_key in _CONF_FIELDS.items():
        if body.get(key) is not None:
            conf[spark_key] = str(body[key])
    for key, spark_key in _LIST_FIELDS.items():
        value = body.get(key)
        if value:
            if not isinstance(value, list):
                raise LivyError(400, f"'{key}' must be a list of paths.")
            conf[spark_key] = ",".join(str(v) for v in value)
    user_conf = body.get("conf") or {}
    if not isinstance(user_conf, dict):
        raise LivyError(400, "'conf' must be an object of Spark settings.")
    conf.update({str(k): str(v) for k, v in user_conf.items()})
    cpus = os.cpu_count() or 1
    if "spark.master" not in user_conf:
        cores = body.get("executorCores")
        if cores:
            wanted = int(cores) * int(body.get("numExecutors") or 1)
            threads = max(1, min(wanted, cpus))
            if threads < wanted:
                notes.append(
                    f"executorCores x numExecutors = {wanted}, capped at the {cpus} "
                    "CPUs of this machine"
                )
            conf["spark.master"] = f"local[{threads}]"
        else:
            conf["spark.master"] = "local[*]"
    java_opts = conf.get("spark.driver.extraJavaOptions", "")
    conf["spark.driver.extraJavaOptions"] = f"{FAST_JVM_FLAGS} {java_opts}".strip()
    return conf, notes


def worker_env(python: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of a session process: loopback only, this Python for executors too."""
    env = dict(os.environ if base is None else base)
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    env["PYSPARK_PYTHON"] = env.get("PYSPARK_PYTHON") or python
    env["PYTHONUNBUFFERED"] = "1"
    for leak in (
        "PYSPARK_DRIVER_PYTHON",
        "PYSPARK_GATEWAY_PORT",
        "PYSPARK_GATEWAY_SECRET",
        "SPARK_CONNECT_MODE_ENABLED",
        "SPARK_REMOTE",
        "EMR_WORKSPACE_LIVY_TOKEN",
    ):
        env.pop(leak, None)
    return env
