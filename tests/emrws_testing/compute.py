"""Helpers for the compute tests: EMR clusters in moto, a stand-in Livy, free ports."""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def subnet_id() -> str:
    return "subnet-" + uuid.uuid4().hex[:17]


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_cluster(
    emr: Any,
    name: str,
    subnet: str | None = None,
    *,
    livy: bool = True,
    configurations: list[dict[str, Any]] | None = None,
    tags: dict[str, str] | None = None,
) -> str:
    instances: dict[str, Any] = {
        "InstanceCount": 1,
        "MasterInstanceType": "m5.xlarge",
        "KeepJobFlowAliveWhenNoSteps": True,
    }
    if subnet:
        instances["Ec2SubnetId"] = subnet
    apps = [{"Name": "Spark"}] + ([{"Name": "Livy"}] if livy else [])
    kwargs: dict[str, Any] = {}
    if configurations:
        kwargs["Configurations"] = configurations
    return str(
        emr.run_job_flow(
            Name=name,
            ReleaseLabel="emr-7.1.0",
            Instances=instances,
            Applications=apps,
            JobFlowRole="EMR_EC2_DefaultRole",
            ServiceRole="EMR_DefaultRole",
            Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
            **kwargs,
        )["JobFlowId"]
    )


class FakeLivy:
    """Answers Livy's GET /sessions (enough for the attach-time probe), counting requests."""

    def __init__(self, tls_dir: Path | None = None) -> None:
        """With ``tls_dir``, serve https with a fresh self-signed certificate for localhost."""
        owner = self
        self.requests: list[str] = []
        self.authorizations: list[str | None] = []  # each request's Authorization header

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(self.path)
                owner.authorizations.append(self.headers.get("Authorization"))
                body = json.dumps({"from": 0, "total": 0, "sessions": []}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        if tls_dir is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self_signed(tls_dir))
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.url = f"https://localhost:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def self_signed(folder: Path) -> tuple[str, str]:
    """(cert file, key file) of a throwaway certificate for localhost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)
