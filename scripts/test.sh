#!/usr/bin/env bash
# Install everything (system tools when root and missing) and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  need=()
  command -v ffmpeg >/dev/null || need+=(ffmpeg)
  command -v curl >/dev/null || need+=(curl)
  /usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0')" 2>/dev/null \
    || need+=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
              gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
              gstreamer1.0-tools)
  command -v pulseaudio >/dev/null || need+=(pulseaudio pulseaudio-utils)
  command -v openssl >/dev/null || need+=(openssl)
  # The web page's browser test: Debian's chromium, driven headless by Selenium.
  command -v chromium >/dev/null || need+=(chromium)
  command -v chromedriver >/dev/null || need+=(chromium-driver)
  python3 -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi
# A user-space PulseAudio with no hardware, for the real audio-capture test
# (a null sink); without it that one test is skipped with the reason.
if command -v pulseaudio >/dev/null && ! pactl info >/dev/null 2>&1; then
  pulseaudio --start --exit-idle-time=-1 >/dev/null 2>&1 || true
fi
scripts/setup.sh
.venv/bin/ruff check .
# Four workers on two cores: most tests wait on a schedule, a capture or an
# upload: with two, a run used 0.6 of a core on average (17 min); with four,
# 1.0 (7 min 51 s).
exec .venv/bin/python -m pytest -n "${OCFRAME_TEST_WORKERS:-4}" -q "$@"
