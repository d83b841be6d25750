"""An HTTP camera stub: ONVIF (device, media, PTZ) and vendor preset CGIs.

It answers what the driver asks, records every preset recall, and checks
credentials the way cameras do: WS-Security UsernameToken PasswordDigest
(``Base64(SHA1(nonce + created + password))``, with ``Created`` compared to
the stub's *own* clock, which can be set off by ``clock_offset`` to prove the
client corrects for skew), HTTP Basic and HTTP Digest (MD5, qop=auth).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree as ET

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
}
ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:tt="http://www.onvif.org/ver10/schema" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
    'xmlns:trt="http://www.onvif.org/ver10/media/wsdl" '
    'xmlns:tptz="http://www.onvif.org/ver20/ptz/wsdl" '
    'xmlns:ter="http://www.onvif.org/ver10/error">'
    "<s:Body>{body}</s:Body></s:Envelope>"
)
NOT_AUTHORIZED = (
    "<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:NotAuthorized"
    '</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">Sender not '
    "authorized</s:Text></s:Reason></s:Fault>"
)


@dataclass
class CameraStub:
    """Start with :meth:`start`; ``requests`` lists (kind, detail) of what was asked."""

    username: str = "admin"
    password: str = "secret"
    stream_uri: str = "rtsp://127.0.0.1:554/stream"
    clock_offset: timedelta = timedelta(0)
    max_skew: timedelta = timedelta(seconds=30)
    profiles: tuple[tuple[str, str], ...] = (("profile_1", "mainStream"), ("profile_2", "sub"))
    requests: list[tuple[str, str]] = field(default_factory=list)
    auth_failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._nonces: set[str] = set()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> CameraStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, xml = stub.soap(self.path, body)
                self._send(status, xml.encode(), "application/soap+xml; charset=utf-8")

            def do_GET(self) -> None:
                status, text, extra = stub.cgi(self.command, self.path, self.headers)
                self._send(status, text.encode(), "text/plain", extra)

            def _send(
                self, status: int, data: bytes, ctype: str, extra: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> CameraStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.clock_offset

    # -- ONVIF -----------------------------------------------------------------
    def _token_ok(self, root: ET.Element) -> bool:
        token = root.find(".//wsse:UsernameToken", NS)
        if token is None:
            self.auth_failures.append("no UsernameToken")
            return False
        user = token.findtext("wsse:Username", "", NS)
        digest = token.findtext("wsse:Password", "", NS)
        nonce = token.findtext("wsse:Nonce", "", NS)
        created = token.findtext("wsu:Created", "", NS)
        expected = base64.b64encode(
            hashlib.sha1(
                base64.b64decode(nonce) + created.encode() + self.password.encode()
            ).digest()
        ).decode()
        if user != self.username or digest != expected:
            self.auth_failures.append("bad digest")
            return False
        when = datetime.fromisoformat(created.replace("Z", "+00:00"))
        if abs(when - self.now()) > self.max_skew:
            self.auth_failures.append(f"Created {created} too far from camera clock")
            return False
        if nonce in self._nonces:
            self.auth_failures.append("nonce replayed")
            return False
        self._nonces.add(nonce)
        return True

    def soap(self, path: str, body: bytes) -> tuple[int, str]:
        root = ET.fromstring(body)
        payload = root.find("s:Body", NS)
        op = payload[0].tag.rpartition("}")[2] if payload is not None and len(payload) else ""
        if op != "GetSystemDateAndTime" and not self._token_ok(root):
            return 400, ENVELOPE.format(body=NOT_AUTHORIZED)
        return 200, ENVELOPE.format(
            body=self._answer(op, payload[0] if payload is not None else None)
        )

    def _answer(self, op: str, req: ET.Element | None) -> str:
        base = self.base_url
        if op == "GetSystemDateAndTime":
            t = self.now()
            return (
                "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
                "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false"
                "</tt:DaylightSavings><tt:UTCDateTime><tt:Time>"
                f"<tt:Hour>{t.hour}</tt:Hour><tt:Minute>{t.minute}</tt:Minute>"
                f"<tt:Second>{t.second}</tt:Second></tt:Time><tt:Date><tt:Year>{t.year}"
                f"</tt:Year><tt:Month>{t.month}</tt:Month><tt:Day>{t.day}</tt:Day>"
                "</tt:Date></tt:UTCDateTime></tds:SystemDateAndTime>"
                "</tds:GetSystemDateAndTimeResponse>"
            )
        if op == "GetServices":
            services = "".join(
                f"<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{base}{p}"
                "</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>0</tt:Minor>"
                "</tds:Version></tds:Service>"
                for ns, p in (
                    ("http://www.onvif.org/ver10/device/wsdl", "/onvif/device_service"),
                    ("http://www.onvif.org/ver10/media/wsdl", "/onvif/media_service"),
                    ("http://www.onvif.org/ver20/ptz/wsdl", "/onvif/ptz_service"),
                )
            )
            return f"<tds:GetServicesResponse>{services}</tds:GetServicesResponse>"
        if op == "GetProfiles":
            items = "".join(
                f'<trt:Profiles token="{tok}" fixed="true"><tt:Name>{name}</tt:Name></trt:Profiles>'
                for tok, name in self.profiles
            )
            return f"<trt:GetProfilesResponse>{items}</trt:GetProfilesResponse>"
        if op == "GetStreamUri":
            token = _text(req, "ProfileToken")
            self.requests.append(("onvif-stream-uri", token))
            return (
                "<trt:GetStreamUriResponse><trt:MediaUri>"
                f"<tt:Uri>{self.stream_uri}</tt:Uri><tt:InvalidAfterConnect>false"
                "</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>"
                "<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>"
            )
        if op == "GotoPreset":
            self.requests.append(
                ("onvif-preset", f"{_text(req, 'ProfileToken')}/{_text(req, 'PresetToken')}")
            )
            return "<tptz:GotoPresetResponse/>"
        return (
            "<s:Fault><s:Code><s:Value>s:Receiver</s:Value></s:Code><s:Reason>"
            f'<s:Text xml:lang="en">{op} not supported</s:Text></s:Reason></s:Fault>'
        )

    # -- vendor CGI --------------------------------------------------------------
    def cgi(self, method: str, path: str, headers: object) -> tuple[int, str, dict[str, str]]:
        parts = urlsplit(path)
        query = parse_qs(parts.query)
        if parts.path == "/cgi-bin/aw_ptz":
            kind, scheme = "panasonic", "basic"
            # Keep the raw query: "%23" must arrive encoded.
            detail = parts.query
        elif parts.path == "/command/presetposition.cgi":
            kind, scheme, detail = "sony", "digest", query.get("PresetCall", [""])[0]
        elif parts.path == "/axis-cgi/com/ptz.cgi":
            kind, scheme = "axis", "digest"
            detail = query.get("gotoserverpresetname", [""])[0]
        else:
            return 404, "not found", {}
        auth = headers.get("Authorization", "")  # type: ignore[attr-defined]
        if not self._http_auth_ok(scheme, method, path, auth):
            challenge = (
                'Basic realm="camera"'
                if scheme == "basic"
                else f'Digest realm="camera", qop="auth", nonce="{self._new_nonce()}", '
                "algorithm=MD5"
            )
            return 401, "unauthorized", {"WWW-Authenticate": challenge}
        self.requests.append((kind, detail))
        if kind == "panasonic":
            cmd = query.get("cmd", [""])[0]  # parse_qs decoded %23 -> '#'
            return 200, cmd.lstrip("#").replace("R", "s", 1), {}
        return 200, "OK", {}

    def _new_nonce(self) -> str:
        nonce = secrets.token_hex(8)
        self._nonces.add("http:" + nonce)
        return nonce

    def _http_auth_ok(self, scheme: str, method: str, uri: str, header: str) -> bool:
        if scheme == "basic":
            expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return header == f"Basic {expected}"
        if not header.startswith("Digest "):
            return False
        fields = dict(re.findall(r'(\w+)="?([^",]+)"?', header[7:]))
        if fields.get("nonce") and "http:" + fields["nonce"] not in self._nonces:
            return False

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()

        ha1 = md5(f"{self.username}:camera:{self.password}")
        ha2 = md5(f"{method}:{fields.get('uri', '')}")
        expected = md5(
            f"{ha1}:{fields.get('nonce')}:{fields.get('nc')}:{fields.get('cnonce')}:auth:{ha2}"
        )
        return (
            fields.get("username") == self.username
            and fields.get("uri") == uri
            and fields.get("response") == expected
        )


def _text(req: ET.Element | None, name: str) -> str:
    if req is None:
        return ""
    for el in req.iter():
        if el.tag.rpartition("}")[2] == name:
            return (el.text or "").strip()
    return ""
