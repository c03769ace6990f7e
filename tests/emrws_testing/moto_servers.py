"""moto running as real HTTP servers, as S3/EMR would be reached."""

from __future__ import annotations

import threading
from typing import Any

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server


class MotoHttp:
    """moto's WSGI app on 127.0.0.1; ``threaded=False`` serialises requests as S3 does
    for conditional writes (moto's threaded server does not make them atomic)."""

    def __init__(self, threaded: bool = True) -> None:
        self.app = DomainDispatcherApplication(create_backend_app)
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, self.app, threaded=threaded)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> MotoHttp:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self._thread.join(timeout=5)

    def reset(self) -> None:
        import requests

        requests.post(f"{self.url}/moto-api/reset", timeout=10)


def client(url: str, service: str, **kwargs: Any) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        **kwargs,
    )
