"""A real RTSP server for tests and demos (GStreamer's rtsp-server).

Runs under Debian's ``/usr/bin/python3`` (the GObject bindings belong to the
system Python, not to a virtualenv); :mod:`ocframe_driver_ipcam.testing`
starts it as a subprocess. Prints ``READY <port>`` on stdout once it listens,
so callers wait for that line instead of sleeping.

Usage: gst_rtsp_server.py [--port 0] [--path /stream] [--user U --password P]
       [--audio]
The password may also come from the environment (``RTSP_TEST_PASSWORD``) so it
stays out of the process listing.
"""

import argparse
import os
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

VIDEO = (
    "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=25/1 "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 ! rtph264pay name=pay0 pt=96"
)
AUDIO = " audiotestsrc is-live=true ! audioconvert ! opusenc ! rtpopuspay name=pay1 pt=97"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--path", default="/stream")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--audio", action="store_true")
    args = parser.parse_args()
    password = args.password or os.environ.get("RTSP_TEST_PASSWORD")

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch("( " + VIDEO + (AUDIO if args.audio else "") + " )")
    factory.set_shared(True)
    if args.user and password:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", args.user)
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, password), token)
        server.set_auth(auth)
        role = Gst.Structure.new_empty(args.user)
        role.set_value("media.factory.access", True)
        role.set_value("media.factory.construct", True)
        factory.add_role_from_structure(role)
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print("cannot listen", file=sys.stderr)
        return 1
    print(f"READY {server.get_bound_port()}", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
