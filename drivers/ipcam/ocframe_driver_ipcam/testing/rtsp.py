"""Start GStreamer's RTSP server (``gst_rtsp_server.py``) from any Python.

The GObject bindings live in Debian's ``/usr/bin/python3``, so the server
runs there as a child process; this module manages it.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"
SCRIPT = Path(__file__).with_name("gst_rtsp_server.py")


def unavailable_reason(python: str = SYSTEM_PYTHON) -> str | None:
    """Why the RTSP server cannot run here, or ``None`` when it can."""
    probe = "import gi; gi.require_version('GstRtspServer','1.0')"
    try:
        done = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{python} cannot run: {exc}"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return f"GstRtspServer bindings missing for {python}: {last}"
    return None


class RtspTestServer:
    """A live H.264 RTSP stream on 127.0.0.1 (``url``), optionally with Basic auth."""

    def __init__(
        self,
        *,
        port: int = 0,
        path: str = "/stream",
        username: str | None = None,
        password: str | None = None,
        audio: bool = False,
        python: str = SYSTEM_PYTHON,
    ) -> None:
        self.path = path
        self.requested_port = port
        self.port = port
        self.username = username
        self.password = password
        self.audio = audio
        self.python = python
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{self.path}"

    def start(self, timeout: float = 20.0) -> RtspTestServer:
        argv = [self.python, str(SCRIPT), "--port", str(self.port), "--path", self.path]
        env = dict(os.environ)
        if self.username:
            argv += ["--user", self.username]
            env["RTSP_TEST_PASSWORD"] = self.password or ""
        if self.audio:
            argv.append("--audio")
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline and not line.endswith(b"\n"):
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 256)
                if not chunk:
                    break
                line += chunk
        if not line.startswith(b"READY "):
            self.stop()
            raise RuntimeError(f"RTSP test server did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def stop(self) -> None:
        """Kill the server (abruptly, like a camera losing power)."""
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def restart(self) -> RtspTestServer:
        """Start again on the same port (the camera came back)."""
        self.stop()
        return self.start()

    def __enter__(self) -> RtspTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str]) -> int:
    """``ocframe rtsp-test-server [args]``: run the server in the foreground."""
    reason = unavailable_reason()
    if reason:
        print(reason, file=sys.stderr)
        return 2
    return subprocess.call([SYSTEM_PYTHON, str(SCRIPT), *argv])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
