"""``ocframe recordings``: the recording store, for operators (list, show,
retry, delete)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .config import OcframeConfig
from .model import IngestPackage, RecordingState
from .model import printable as p
from .store import RecordingStore


def recordings_command(args: argparse.Namespace, config: OcframeConfig) -> int:
    """``ocframe recordings list|show|retry|delete [ID]``."""
    # Ids, titles and reasons come from the calendar and the core: printed
    # through printable(), a title cannot rewrite the operator's terminal.
    store = RecordingStore(config.storage.directory / "recordings.db", set_aside_corrupt=False)
    if args.action == "list":
        recs = store.recordings()
        for r in recs:
            print(f"{p(r.id, limit=60):<40} {r.agent:<14} {r.state:<17}"
                  f" {r.event.start:%Y-%m-%d %H:%M} {p(r.event.title, limit=40)}")
        if not recs:
            print("no recordings")
        return 0
    if not args.id:
        print("a recording id is required", file=sys.stderr)
        return 2
    rec = store.get(args.id)
    if rec is None:
        print(f"no recording {p(args.id)!r}", file=sys.stderr)
        return 1
    if args.action == "show":
        print(f"id:        {p(rec.id)}\nagent:     {rec.agent}\n"
              f"title:     {p(rec.event.title)}")
        print(f"scheduled: {rec.event.start.isoformat()} - {rec.event.end.isoformat()}")
        print(f"state:     {rec.state}\ndirectory: {rec.directory}")
        if rec.error:
            print(f"error:     {p(rec.error, limit=None)}")
        print("segments:")
        for s in store.segments(rec.id):
            files = ", ".join(f"{t.path.name} ({t.flavor})" for t in s.tracks) or "-"
            error = f"  error: {p(s.error, limit=None)}" if s.error else ""
            print(f"  {s.input} #{s.segment}: {p(files, limit=None)}{error}")
        print("states:")
        for at, state, detail in store.history(rec.id):
            print(f"  {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(at))} {state}"
                  f"{'  ' + p(detail, limit=None) if detail else ''}")
        _print_package(rec.package, rec.directory)
        print("uploads:")
        for a in store.attempts(rec.id):
            outcome = a["outcome"] or "running"
            print(f"  #{a['attempt']} {a['method']} {outcome} {p(a['detail'] or '', limit=None)}")
        return 0
    if args.action == "retry":
        if rec.state == RecordingState.CAPTURING:
            print("still capturing; it will be uploaded when it ends", file=sys.stderr)
            return 1
        store.reset_attempts(rec.id)
        store.set_state(rec.id, RecordingState.CAPTURE_FINISHED, "operator asked to re-ingest")
        print(f"{p(rec.id)} queued for upload; a running agent picks it up within seconds")
        if args.wait:
            from .cli_wait import wait_for_upload

            return wait_for_upload(store, config.storage.directory / "health.json", rec.id)
        return 0
    if args.action == "delete":
        if rec.state not in (RecordingState.UPLOAD_FINISHED, RecordingState.UPLOAD_ERROR,
                             RecordingState.CAPTURE_ERROR) and not args.force:
            print(f"{p(rec.id)} is {rec.state}, not yet ingested; add --force to delete it anyway",
                  file=sys.stderr)
            return 1
        store.delete(rec.id)
        print(f"{p(rec.id)} deleted with its files")
        return 0
    return 2


def _print_package(package: IngestPackage | None, directory: Path) -> None:
    """What the upload sends, as the ``pre_ingest`` hooks left it; paths
    inside the recording's directory relative to it."""
    if package is None:
        print("package:   not built yet (when the upload starts, after the pre_ingest hooks)")
        return
    print("package (after the pre_ingest hooks):")
    for kind, elements in (("track", package.tracks), ("catalog", package.catalogs),
                           ("attachment", package.attachments)):
        for e in elements:
            try:
                size = f"{e.path.stat().st_size} bytes"
            except OSError:
                size = "missing"
            shown = e.path.relative_to(directory) if e.path.is_relative_to(directory) else e.path
            print(f"  {kind:<10} {p(e.flavor)} {p(e.mimetype)} {p(str(shown), limit=None)}"
                  f" ({size})")
