"""TLS: verified by default, a private CA through ca_bundle, ``insecure`` loudly."""

from __future__ import annotations

import json
import logging
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from ocframe.config import CoreConfig
from ocframe.errors import CoreError
from ocframe.opencast.client import OpencastClient

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d: Path) -> tuple[Path, Path, Path]:
    """A private CA and a server certificate for 127.0.0.1 signed by it."""
    (d / "ca.ext").write_text("basicConstraints=critical,CA:TRUE\n"
                              "keyUsage=critical,keyCertSign,cRLSign\n"
                              "subjectKeyIdentifier=hash\n")
    (d / "srv.ext").write_text("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,"
                               "keyEncipherment\nextendedKeyUsage=serverAuth\n"
                               "subjectAltName=IP:127.0.0.1\nsubjectKeyIdentifier=hash\n"
                               "authorityKeyIdentifier=keyid\n")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.pem", "-days", "2", "-subj", "/CN=ocframe test CA", "-addext",
             "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
             cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
             "-subj", "/CN=127.0.0.1", cwd=d)
    _openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "srv.ext", cwd=d)
    return d / "ca.pem", d / "srv.pem", d / "srv.key"


def registry_app(environ: dict[str, Any], start_response: Any) -> Any:
    req = Request(environ)
    body = {"services": {"service": {"type": req.args.get("serviceType"),
                                     "host": req.host_url.rstrip("/"), "path": "/capture-admin",
                                     "active": True, "online": True, "maintenance": False}}}
    return Response(json.dumps(body), mimetype="application/json")(environ, start_response)


@pytest.fixture
def https_core(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    ca, cert, key = make_pki(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server = make_server("127.0.0.1", 0, registry_app, threaded=True, ssl_context=ctx)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_port}", ca
    server.shutdown()
    server.server_close()


def lookup(url: str, caplog: pytest.LogCaptureFixture | None = None, **tls: Any) -> str:
    client = OpencastClient(CoreConfig(url=url, user="ca", password="x",  # type: ignore[arg-type]
                                       timeout=5, **tls))
    try:
        return client.registry.lookup("org.opencastproject.capture.admin", refresh=True)
    finally:
        client.close()


def test_verified_by_default_fails_for_a_private_ca(https_core: tuple[str, Path]) -> None:
    url, _ca = https_core
    with pytest.raises(CoreError, match=r"TLS verification failed.*ca_bundle"):
        lookup(url)


def test_ca_bundle_makes_it_work(https_core: tuple[str, Path]) -> None:
    url, ca = https_core
    assert lookup(url, ca_bundle=ca) == f"{url}/capture-admin"


def test_insecure_works_and_warns_loudly(https_core: tuple[str, Path],
                                         caplog: pytest.LogCaptureFixture) -> None:
    url, _ca = https_core
    caplog.set_level(logging.WARNING, logger="ocframe.core")
    assert lookup(url, insecure=True) == f"{url}/capture-admin"
    warnings = [r for r in caplog.records if "VERIFICATION IS OFF" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
