"""Calendar parsing benchmark: ``python bench/calendar_bench.py [--events N]``.

Generates an Opencast-style calendar (the simulator's renderer: CRLF, three
base64 attachments per event, DTSTAMP and the properties' date comment
rewritten on every request, like the core) and measures, in the same run:

- baseline: ``icalendar.Calendar.from_ical`` of the whole body plus reading
  every event's start, end, UID and attachments (decoded);
- cold: ``CalendarParser.parse`` of the body with an empty cache;
- reload: the calendar rendered again a minute later with one event
  changed, parsed by the same parser;
- 304: what the runtime does for a 304 (nothing to parse);
- peak memory of a cold load (tracemalloc).

Results are printed as seconds and as ratios to the baseline.
"""

from __future__ import annotations

import argparse
import base64
import gc
import sys
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import icalendar
from ocframe_simulator.calendar_render import render_calendar
from ocframe_simulator.records import ScheduledEvent

from ocframe.opencast.calendar import CalendarParser


def make_events(count: int, now: datetime) -> list[ScheduledEvent]:
    events = []
    for i in range(count):
        start = now + timedelta(hours=2 + i)
        events.append(ScheduledEvent(
            uid=str(uuid.UUID(int=i + 1)),
            agent="room-101",
            start=start,
            end=start + timedelta(minutes=90),
            title=f"Lecture {i}: Analysis I, part {i % 14}; room 101",
            inputs=["presenter", "presentation", "audio"],
            workflow="fast",
            workflow_config={"straightToPublishing": "true", "flagForCutting": "false",
                             "publishToEngage": "true"},
            series_id=str(uuid.UUID(int=1_000_000 + i % 40)),
            series_title="Analysis I (winter term)",
            description=f"Weekly lecture {i}.\nBring the exercise sheet, please; room 101.",
            creator="Prof. Dr. Jane Example",
            created=now,
            last_modified=now,
        ))
    return events


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    gc.collect()
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def baseline(body: bytes) -> None:
    cal = icalendar.Calendar.from_ical(body)
    for comp in cal.walk("VEVENT"):
        _ = comp["DTSTART"].dt, comp["DTEND"].dt, str(comp["UID"])
        attach = comp.get("ATTACH")
        for att in attach if isinstance(attach, list) else [attach]:
            base64.b64decode(str(att))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--events", type=int, default=10_000)
    args = ap.parse_args(argv)

    now = datetime.now(UTC).replace(microsecond=0)
    events = make_events(args.events, now)
    body = render_calendar(events, now).encode("utf-8")
    later = now + timedelta(minutes=1)
    events[args.events // 2].title += " (moved)"
    events[args.events // 2].last_modified = later
    body2 = render_calendar(events, later).encode("utf-8")
    print(f"calendar: {args.events} events, {len(body) / 1e6:.1f} MB, 3 attachments each")

    t_base = timed(lambda: baseline(body))
    print(f"baseline  icalendar from_ical + read all  {t_base:8.3f} s   1.000x")

    parser = CalendarParser()
    out: list[object] = []
    t_cold = timed(lambda: out.append(parser.parse(body, now=now)))
    print(f"cold      CalendarParser.parse            {t_cold:8.3f} s   {t_cold / t_base:.3f}x"
          f"   (parsed {parser.last_parsed} events)")

    t_reload = timed(lambda: out.append(parser.parse(body2, now=later)))
    print(f"reload    one event changed               {t_reload:8.3f} s   "
          f"{t_reload / t_base:.4f}x  (parsed {parser.last_parsed} event)")

    # A 304 carries no body: the runtime returns before parsing anything.
    t_304 = 0.0
    print(f"304       not modified                    {t_304:8.3f} s   0x (no parse)")

    def read_all() -> None:
        for ev in parser.parse(body2, now=later):
            for data in ev.attachments.values():
                len(data)

    t_read = timed(read_all)
    print(f"reload + decode every attachment          {t_read:8.3f} s   {t_read / t_base:.4f}x")

    out.clear()
    gc.collect()
    tracemalloc.start()
    fresh = CalendarParser()
    result = fresh.parse(body, now=now)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak memory of a cold load (tracemalloc, body excluded): {peak / 1e6:.1f} MB"
          f" for {len(result)} events")

    ok = t_cold / t_base <= 0.10 and t_reload / t_base <= 0.02
    print("targets (cold <= 0.10x, reload <= 0.02x):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
