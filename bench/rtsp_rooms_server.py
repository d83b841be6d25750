"""N RTSP cameras in one GStreamer RTSP server, for bench/rooms_bench.py.

Runs under Debian's /usr/bin/python3 (the GObject bindings). Mounts
/cam1 ... /camN on 127.0.0.1; prints ``READY <port>`` once it listens.

  --clip FILE   every camera serves this pre-encoded H.264 MP4 in real time
                (the pipeline is clocked, so a camera sends a second of media
                per second, as a real one does; the server does no encoding)
  --live        every camera encodes its own live test picture (x264)
"""

import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

LIVE = ("videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=180,"
        "framerate=25/1 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=50"
        " ! rtph264pay name=pay0 pt=96 config-interval=1")
CLIP = ("filesrc location={clip} ! qtdemux ! h264parse"
        " ! rtph264pay name=pay0 pt=96 config-interval=1")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cameras", type=int, required=True)
    parser.add_argument("--port", type=int, default=0)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--clip")
    group.add_argument("--live", action="store_true")
    args = parser.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    launch = LIVE if args.live else CLIP.format(clip=args.clip)
    mounts = server.get_mount_points()
    for k in range(1, args.cameras + 1):
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(f"( {launch} )")
        factory.set_shared(True)
        mounts.add_factory(f"/cam{k}", factory)
    if server.attach(None) == 0:
        print("cannot listen", file=sys.stderr)
        return 1
    print(f"READY {server.get_bound_port()}", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
