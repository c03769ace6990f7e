"""moto as an HTTP server that also records every request it answers (method, path,
form or JSON body, headers), so a test can check what the server sent to AWS, such as
the ``Policy`` of an STS ``AssumeRole`` call or the access key that signed a request,
without patching botocore. Setting ``fail_with`` makes it answer every request with that
S3 error instead (a bucket that refuses access, an S3 that answers 5xx)."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    body: bytes
    #: the request's headers (``Authorization`` names the access key that signed it)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def form(self) -> dict[str, str]:
        """A query-protocol body (STS, EMR's older APIs) as one value per name."""
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8", "replace")).items()}


class RecordingMoto:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        #: (HTTP status, S3 error code) to answer every request with; None: moto answers
        self.fail_with: tuple[int, str] | None = None
        self._lock = threading.Lock()
        moto_app = DomainDispatcherApplication(create_backend_app)

        def app(environ: dict[str, Any], start_response: Any) -> Any:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            with self._lock:
                self.requests.append(
                    Recorded(
                        environ["REQUEST_METHOD"],
                        environ.get("PATH_INFO", ""),
                        body,
                        {
                            k[5:].replace("_", "-").title(): str(v)
                            for k, v in environ.items()
                            if k.startswith("HTTP_")
                        },
                    )
                )
            if self.fail_with is not None:
                status, code = self.fail_with
                xml = (
                    '<?xml version="1.0" encoding="UTF-8"?>'
                    f"<Error><Code>{code}</Code><Message>injected by the test</Message>"
                    "<RequestId>test</RequestId></Error>"
                ).encode()
                start_response(
                    f"{status} {code}",
                    [("Content-Type", "application/xml"), ("Content-Length", str(len(xml)))],
                )
                return [xml]
            return moto_app(environ, start_response)

        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> RecordingMoto:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self._thread.join(timeout=5)

    def calls(self, action: str) -> list[dict[str, str]]:
        """Form bodies of the query-protocol calls named ``action`` (e.g. AssumeRole)."""
        with self._lock:
            forms = [r.form for r in self.requests if r.body]
        return [f for f in forms if f.get("Action") == action]
