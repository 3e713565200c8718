"""A TLS front for a LiveServer: https on 127.0.0.1 with a self-signed certificate for a made-up name.

It stands in for the deployment's nginx (docs/DEPLOY.md §3-4, tried for real by scripts/https-smoke.sh)
where a browser test needs an https origin that is not localhost.
"""
from __future__ import annotations

import base64
import hashlib
import socket
import ssl
import subprocess
import threading
from pathlib import Path


def self_signed_certificate(name: str, folder: Path) -> tuple[Path, Path, str]:
    """A certificate and key for `name` (openssl, as docs/DEPLOY.md makes them); also the base64 SHA-256 of its
    public key, which Chromium's --ignore-certificate-errors-spki-list trusts."""
    cert_path, key_path = folder / "server.crt", folder / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "7", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
                    "-addext", "extendedKeyUsage=serverAuth", "-keyout", str(key_path), "-out", str(cert_path)],
                   check=True, capture_output=True)
    public_key = subprocess.run(["openssl", "x509", "-in", str(cert_path), "-pubkey", "-noout"],
                                check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=public_key,
                         check=True, capture_output=True).stdout
    return cert_path, key_path, base64.b64encode(hashlib.sha256(der).digest()).decode()


class TlsProxy:
    """Accept TLS on a free port and relay each connection to 127.0.0.1:`backend_port` (closed if it is down)."""

    def __init__(self, backend_port: int, cert: Path, key: Path):
        self.backend_port = backend_port
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _address = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            secure = self.context.wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError):
            client.close()
            return
        try:
            backend = socket.create_connection(("127.0.0.1", self.backend_port), timeout=5)
        except OSError:
            secure.close()  # the app server is down: the browser sees a failed request
            return
        backend.settimeout(None)

        def pump(source, target):
            try:
                while data := source.recv(65536):
                    target.sendall(data)
            except OSError:
                pass
            finally:
                for end in (source, target):
                    try:
                        end.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(backend, secure), daemon=True).start()
        pump(secure, backend)

    def close(self) -> None:
        self.closed = True
        self.listener.close()
