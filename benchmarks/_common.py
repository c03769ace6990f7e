"""Shared by the benchmarks: moto in its own process, and percentiles."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from emrws_testing.moto_servers import client

TESTS = Path(__file__).resolve().parent.parent / "tests"


class MotoProcess:
    """moto's HTTP server in its own process, so its work does not share this process's
    GIL with the code measured. ``serial``: one request at a time, which makes
    conditional writes atomic as on S3 (moto's threaded server does not): the lock soak
    needs it."""

    proc: subprocess.Popen[bytes]

    def __init__(self, *, serial: bool = False) -> None:
        from emrws_testing.servers import free_port

        if serial:
            # the one copy of the single-threaded server (tests' moto_serial) in a process
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _SERIAL, str(TESTS)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            assert self.proc.stdout is not None
            self.url = self.proc.stdout.readline().decode().strip()
            if not self.url:
                raise RuntimeError("moto did not start")
        else:
            port = free_port()
            self.url = f"http://127.0.0.1:{port}"
            self.proc = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("moto_server")),
                    "-H",
                    "127.0.0.1",
                    "-p",
                    str(port),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        self.port = int(self.url.rsplit(":", 1)[1])
        deadline = time.monotonic() + 30
        while True:
            try:
                client(self.url, "s3").list_buckets()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


_SERIAL = """
import sys
sys.path.insert(0, sys.argv[1])
from emrws_testing.moto_servers import MotoHttp
moto = MotoHttp(threaded=False)
print(moto.url, flush=True)
moto.server.serve_forever()
"""


def pct(samples: list[float], q: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000
