from pathlib import Path

from ocframe_driver_v4l2 import parse_ffmpeg_list_formats, parse_v4l2_ctl_formats

RECORDED = Path(__file__).parent / "recorded"


def test_ffmpeg_listing_of_a_uvc_camera() -> None:
    result = parse_ffmpeg_list_formats((RECORDED / "ffmpeg-c920-video0.txt").read_text())
    assert result.capture
    assert result.format_names == ["yuyv422", "h264", "mjpeg"]
    mjpeg = result.formats[2]
    assert mjpeg.compressed and mjpeg.description == "Motion-JPEG"
    assert "1920x1080" in mjpeg.sizes
    assert result.resolutions()[0] == "2304x1536"
    assert result.resolutions()[-1] == "160x90"


def test_ffmpeg_listing_of_the_metadata_node() -> None:
    text = (RECORDED / "ffmpeg-c920-video1-metadata.txt").read_text()
    result = parse_ffmpeg_list_formats(text)
    assert not result.capture
    assert result.error == "Not a video capture device"


def test_ffmpeg_listing_lines_without_prefix() -> None:
    text = (
        "Raw : yuyv422 : YUYV 4:2:2 : 640x480 1280x720\nCompressed: mjpeg : Motion-JPEG : 1920x1080"
    )
    result = parse_ffmpeg_list_formats(text)
    assert result.format_names == ["yuyv422", "mjpeg"]
    assert result.resolutions() == ["1920x1080", "1280x720", "640x480"]


def test_ffmpeg_listing_with_no_formats_reports_the_last_line() -> None:
    result = parse_ffmpeg_list_formats("/dev/video9: Permission denied\n")
    assert result.capture and not result.formats
    assert result.error and "Permission denied" in result.error


def test_v4l2_ctl_listing_maps_fourccs_to_ffmpeg_names() -> None:
    result = parse_v4l2_ctl_formats((RECORDED / "v4l2-ctl-camlink-video2.txt").read_text())
    assert result.capture
    assert result.format_names == ["yuyv422", "nv12", "mjpeg"]
    assert result.formats[2].compressed
    assert result.formats[2].sizes == ("1920x1080", "1280x720")


def test_v4l2_ctl_metadata_node_is_not_capture() -> None:
    result = parse_v4l2_ctl_formats((RECORDED / "v4l2-ctl-metadata.txt").read_text())
    assert not result.capture
    assert "Metadata" in (result.error or "")
