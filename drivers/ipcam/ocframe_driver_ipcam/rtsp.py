"""Building the ffmpeg input for an RTSP pull without exposing credentials.

ffmpeg takes an RTSP URL only as ``-i URL``, so credentials in it would show
in ``ps``. Instead the URL goes into an ffconcat script (``file`` plus
``option`` lines for the inner RTSP demuxer) that ffmpeg reads from a FIFO in
a private directory: the command line shows only the FIFO's path and the
secret never touches the disk.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from ocframe import ffmpeg as ff

PROTOCOLS = "file,pipe,rtsp,rtsps,rtp,srtp,tcp,udp,tls,crypto,http,https,httpproxy"


def timeout_option(ffmpeg: str) -> str:
    """``timeout`` (ffmpeg >= 5) or ``stimeout`` (older): both microseconds.

    Decided from ``ffmpeg -h demuxer=rtsp`` because on ffmpeg 4 ``-timeout``
    exists too but means the *listen* timeout in seconds.
    """
    text = ff.ffmpeg_help(ffmpeg, "demuxer=rtsp")
    if re.search(r"^\s*-stimeout\b", text, re.M):
        return "stimeout"
    return "timeout"


def with_credentials(url: str, username: str | None, password: str | None) -> str:
    """``url`` with percent-encoded credentials (replacing any already in it)."""
    if not username:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    auth = quote(username, safe="")
    if password:
        auth += ":" + quote(password, safe="")
    return urlunsplit(parts._replace(netloc=f"{auth}@{netloc}"))


def without_credentials(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=netloc))


def ffconcat_script(url: str, options: dict[str, str]) -> str:
    escaped = url.replace("'", "'\\''")
    lines = ["ffconcat version 1.0", f"file '{escaped}'"]
    lines += [f"option {k} {v}" for k, v in options.items()]
    return "\n".join(lines) + "\n"


class SecretFifo:
    """A FIFO that hands ``content`` to the one reader that opens it."""

    def __init__(self, content: str, name: str = "input.ffconcat") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ocframe-ipcam-"))  # mode 0700
        self.path = self.dir / name
        os.mkfifo(self.path, 0o600)
        self._content = content.encode()
        self._thread = threading.Thread(target=self._write, name="ipcam-fifo", daemon=True)
        self._thread.start()

    def _write(self) -> None:
        with contextlib.suppress(OSError), open(self.path, "wb") as fifo:  # blocks until read
            fifo.write(self._content)

    def close(self) -> None:
        """Release a writer still waiting (the reader never came) and remove it."""
        if self._thread.is_alive():
            with contextlib.suppress(OSError):
                fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
                self._thread.join(timeout=2.0)
                os.close(fd)
        shutil.rmtree(self.dir, ignore_errors=True)
