"""ocframe driver for IP cameras: RTSP pull with ffmpeg stream copy, ONVIF
stream URI and PTZ presets, vendor HTTP preset recall."""

from .driver import IpCamDriver, IpCamSettings

__all__ = ["IpCamDriver", "IpCamSettings"]
