"""``ocframe recordings retry ID --wait``: follow an upload to its end.

The state comes from the recording store; the bytes from the running
agent's ``health.json``, which lists its uploads every few seconds. On a
terminal the line redraws itself as a bar; otherwise (a log, a pipe) a line
is printed when the state changes and every tenth of the way.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

from .health import read_health
from .model import RecordingState, printable
from .store import RecordingStore

FINAL = {RecordingState.UPLOAD_FINISHED.value, RecordingState.UPLOAD_ERROR.value,
         RecordingState.CAPTURE_ERROR.value}
WIDTH = 30


def bar(state: str, sent: int | None, total: int | None) -> str:
    if not sent or not total:
        return f"{state:<17}"
    part = min(1.0, sent / total)
    filled = int(part * WIDTH)
    return (f"{state:<17} [{'#' * filled}{'.' * (WIDTH - filled)}] {part:4.0%}"
            f" {sent / 2**20:.1f}/{total / 2**20:.1f} MiB")


def wait_for_upload(store: RecordingStore, health_path: Path, recording_id: str, *,
                    out: TextIO = sys.stdout, poll: float = 0.5) -> int:
    """0 once ingested, 1 if it failed (the reason is printed), 2 if no agent
    runs here to upload it."""
    tty = out.isatty()
    shown: tuple[str, int] | None = None
    while True:
        rec = store.get(recording_id)
        if rec is None:
            print(f"\n{printable(recording_id)} was deleted", file=out)
            return 1
        health = read_health(health_path)
        if rec.state not in FINAL and (health is None or health.stale):
            print(f"\nno agent is running here to upload {printable(recording_id)}; it is"
                  " uploaded when one starts", file=out)
            return 2
        sent, total = health.uploads.get(recording_id, (None, None)) if health else (None, None)
        if rec.state != RecordingState.UPLOADING.value:
            sent = total = None
        tenth = int(10 * sent / total) if sent and total else -1
        if tty:
            print("\r" + bar(rec.state, sent, total), end="", file=out, flush=True)
        elif shown != (rec.state, tenth):
            print(bar(rec.state, sent, total).rstrip(), file=out, flush=True)
        shown = (rec.state, tenth)
        if rec.state in FINAL:
            if tty:
                print(file=out)
            if rec.state != RecordingState.UPLOAD_FINISHED.value:
                print(f"{printable(recording_id)}: {printable(rec.error or rec.state)}",
                      file=out)
                return 1
            return 0
        time.sleep(poll)
