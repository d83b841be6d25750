"""Coverage-guided fuzzing of the calendar parser with atheris (libFuzzer).

    .venv/bin/pip install atheris
    .venv/bin/python bench/fuzz_calendar.py --seconds 300 [--corpus DIR] [--findings DIR]

The seed corpus is real calendars as the core writes them, rendered by the
simulator (``ocframe_simulator.calendar_render``): empty, one event, many,
folded lines, escaped text, series, workflow settings, odd titles. The
parser and everything it uses (``ocframe.opencast``, ``ocframe.model``,
icalendar) are instrumented, so libFuzzer mutates towards new code paths.

Each input is parsed as the agent does with a poll: a fresh
``CalendarParser`` parses it, then parses it again (the unchanged-poll path,
from the parser's memory), and every event is used as the agent uses it
(attachments decoded, properties, workflow settings, its JSON for the
schedule cache and the store, read back). Any exception other than
``CalendarError`` is a finding: its input is written to ``--findings`` with
the traceback, once per distinct place, and fuzzing goes on. A hang or a
crash of the interpreter stops libFuzzer, which writes the input there too.

The fuzzer runs in a child process (libFuzzer ends the process when it is
done); this script prints its executions, coverage and findings, and exits
1 when there was a finding.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import subprocess
import sys
import tempfile
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path

#: A fixed "now", so that whether an event is past is the same on every run.
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

TITLES = ["Analysis I", "Vorlesung: Übung 3", "講義", "a, b; c\\d", "line one\nline two",
          "", "Ω" * 40, "Lecture with a very long title " * 4, "=?utf-8?q?x?=", "\t tabs \t"]


def seed_calendars(count: int, seed: int) -> list[bytes]:
    """Calendars as the simulator (and so the core) renders them."""
    from ocframe_simulator.calendar_render import render_calendar
    from ocframe_simulator.records import ScheduledEvent

    rng = random.Random(seed)
    bodies = []
    for i in range(count):
        events = []
        for k in range(rng.choice([0, 1, 1, 2, 3, 5, 12])):
            start = NOW + timedelta(minutes=rng.randint(-120, 60 * 24 * 14))
            events.append(ScheduledEvent(
                uid=f"{rng.getrandbits(128):032x}" if rng.random() < 0.9 else f"uid-{i}-{k}",
                agent=rng.choice(["room-1", "hörsaal 2", "a" * 40]),
                start=start, end=start + timedelta(minutes=rng.choice([1, 45, 90, 600])),
                title=rng.choice(TITLES),
                inputs=rng.choice([None, [], ["presenter"], ["presenter", "slides"]]),
                workflow=rng.choice([None, "fast", "schedule-and-upload"]),
                workflow_config=rng.choice([{}, {"straightToPublishing": "true"},
                                            {"some.dotted.key": "v", "x": "1"}]),
                series_id=rng.choice([None, "series-1", f"{rng.getrandbits(64):x}"]),
                series_title=rng.choice([None, "Analysis", "Reihe, Teil; 2"]),
                description=rng.choice([None, "demo", "multi\nline, text; here"]),
                creator=rng.choice([None, "Prof. Müller"]),
                extra_properties=rng.choice([{}, {"capture.device.presenter.x": "y"}]),
                created=NOW - timedelta(days=1), last_modified=NOW - timedelta(hours=1)))
        body = render_calendar(events, NOW, fold=rng.random() < 0.3).encode("utf-8")
        if rng.random() < 0.1:
            body = body.replace(b"\r\n", b"\n")
        bodies.append(body)
    return bodies


# -- the child: libFuzzer ---------------------------------------------------------------

def child(args: list[str]) -> None:
    import atheris

    with atheris.instrument_imports():
        from ocframe.model import Event
        from ocframe.opencast.calendar import CalendarError, CalendarParser

    findings = Path(args[0])
    seen: set[str] = set()

    def use(events: list[Event]) -> None:
        for e in events:
            for name in ("episode.xml", "series.xml", "missing"):
                e.attachments.get(name)
            _ = (e.inputs, e.workflow_definition, e.workflow_config, e.series_title,
                 e.duration_seconds())
            again = Event.from_json(e.to_json())
            assert again.uid == e.uid and again.start == e.start and again.end == e.end

    def one_input(data: bytes) -> None:
        parser = CalendarParser()
        try:
            first = parser.parse(data, now=NOW)
            use(first)
            second = parser.parse(data, now=NOW)  # an unchanged poll, from memory
            if [(e.uid, e.start, e.end) for e in first] != \
                    [(e.uid, e.start, e.end) for e in second]:
                raise AssertionError("an unchanged calendar parsed differently the second time")
            use(second)
        except CalendarError:
            return
        except Exception as exc:
            frames = traceback.extract_tb(exc.__traceback__)
            ours = [f for f in frames if "ocframe" in f.filename] or frames
            where = f"{type(exc).__name__} at {ours[-1].filename}:{ours[-1].lineno}"
            if where in seen:
                return
            seen.add(where)
            name = hashlib.sha1(data).hexdigest()[:16]
            (findings / f"finding-{name}.ics").write_bytes(data)
            (findings / f"finding-{name}.txt").write_text(
                where + "\n\n" + "".join(traceback.format_exception(exc)))
            print(f"FINDING {where}", file=sys.stderr, flush=True)

    atheris.Setup([sys.argv[0], *args[1:]], one_input)
    atheris.Fuzz()


# -- the parent -------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description="Fuzz ocframe's calendar parser with atheris.")
    ap.add_argument("--seconds", type=int, default=300, help="how long to fuzz")
    ap.add_argument("--corpus", type=Path, help="corpus directory (default: a temporary one)")
    ap.add_argument("--findings", type=Path, default=Path("fuzz-findings"),
                    help="where findings are written (default: ./fuzz-findings)")
    ap.add_argument("--seeds", type=int, default=40, help="calendars rendered as seeds")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args.child)
        return 0
    with tempfile.TemporaryDirectory(prefix="ocframe-fuzz-") as tmp:
        corpus = args.corpus or Path(tmp) / "corpus"
        corpus.mkdir(parents=True, exist_ok=True)
        for body in seed_calendars(args.seeds, args.seed):
            (corpus / f"seed-{hashlib.sha1(body).hexdigest()[:16]}.ics").write_bytes(body)
        args.findings.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, __file__, "--child", str(args.findings), str(corpus),
               f"-max_total_time={args.seconds}", "-print_final_stats=1", "-timeout=10",
               "-rss_limit_mb=2048", "-max_len=65536", f"-seed={args.seed}",
               f"-artifact_prefix={args.findings}/"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        seeds = len(list(corpus.iterdir()))
    out = done.stderr
    runs = re.findall(r"Done (\d+) runs in (\d+) second", out)
    units = re.findall(r"stat::number_of_executed_units:\s*(\d+)", out)
    cov = re.findall(r"cov: (\d+) ft: (\d+) corp: (\d+)", out)
    crashes = [line for line in out.splitlines()
               if "ERROR: libFuzzer" in line or "Uncaught Python exception" in line]
    found = sorted(p.name for p in args.findings.glob("finding-*.txt"))
    artifacts = sorted(p.name for p in args.findings.glob("crash-*")) + \
        sorted(p.name for p in args.findings.glob("timeout-*"))
    print(f"seed corpus: {args.seeds} rendered calendars; corpus at the end: {seeds} inputs")
    if runs:
        print(f"executions: {runs[-1][0]} in {runs[-1][1]} s")
    elif units:
        print(f"executions: {units[-1]}")
    if cov:
        print(f"coverage: {cov[-1][0]} edges, {cov[-1][1]} features, corpus {cov[-1][2]}")
    print(f"findings: {len(found) + len(artifacts)}"
          + "".join(f"\n  {args.findings / f}: "
                    f"{(args.findings / f).read_text().splitlines()[0]}" for f in found)
          + "".join(f"\n  {args.findings / a} (libFuzzer)" for a in artifacts))
    if crashes:
        print("libFuzzer stopped early:\n  " + "\n  ".join(crashes))
    if done.returncode not in (0,) and not crashes:
        print(out[-3000:], file=sys.stderr)
    return 1 if found or artifacts or crashes else 0


if __name__ == "__main__":
    sys.exit(main())
