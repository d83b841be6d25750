"""The driver against the fixture tree and recorded outputs (no ffmpeg run)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ocframe_driver_v4l2 import RecordedProber
from ocframe_driver_v4l2.testing import BY_ID, CAMERA, CARD, Tree, make_ctx, make_driver

from ocframe import CaptureError


def _driver(tree: Tree, prober: RecordedProber, **settings: object):
    return make_driver(prober=prober, sysfs_root=tree.sysfs, dev_root=tree.dev, **settings)


def test_capabilities_have_no_prefix(tree: Tree, prober: RecordedProber) -> None:
    caps = _driver(tree, prober, device=BY_ID).capabilities()
    assert caps["device"] == BY_ID
    assert caps["flavor"] == "presenter/source"
    assert caps["formats"] == "yuyv422,h264,mjpeg"
    assert caps["resolutions"].split(",")[:2] == ["2304x1536", "2304x1296"]
    assert caps["name"] == CAMERA
    assert not any(k.startswith("capture.device") for k in caps)


def test_capture_card_by_name_uses_v4l2_ctl_listing(tree: Tree, prober: RecordedProber) -> None:
    caps = _driver(tree, prober, device=CARD).capabilities()
    assert caps["formats"] == "yuyv422,nv12,mjpeg"
    assert caps["node"].endswith("video2")


def test_check_reports_present_and_formats(tree: Tree, prober: RecordedProber) -> None:
    checks = _driver(tree, prober, device=BY_ID, input_format="mjpeg").check()
    assert [(c.name, c.ok) for c in checks] == [
        ("device present", True),
        ("formats readable", True),
    ]
    checks = _driver(tree, prober, device=BY_ID, input_format="nv12").check()
    assert checks[-1].name == "input_format offered" and not checks[-1].ok


def test_check_reports_missing_device(tree: Tree, prober: RecordedProber) -> None:
    (tree.dev / "v4l/by-id" / Path(BY_ID).name).unlink()
    checks = _driver(tree, prober, device=BY_ID).check()
    assert [(c.name, c.ok) for c in checks] == [("device present", False)]
    assert "not present" in checks[0].detail


def test_missing_device_at_start_is_a_capture_error(
    tree: Tree, prober: RecordedProber, tmp_path: Path
) -> None:
    driver = _driver(tree, prober, device="/dev/v4l/by-id/usb-unplugged-video-index0")
    with pytest.raises(CaptureError, match=r"usb-unplugged.*not present") as info:
        driver.start(make_ctx(driver, tmp_path / "rec"))
    assert info.value.permanent


def test_copy_of_mjpeg_into_mkv(tree: Tree, prober: RecordedProber, tmp_path: Path) -> None:
    driver = _driver(
        tree,
        prober,
        device=BY_ID,
        input_format="mjpeg",
        video_size="1920x1080",
        framerate=30,
        video_codec="copy",
    )
    cmd = driver.command(make_ctx(driver, tmp_path / "rec"))
    argv = list(cmd.argv)
    i = argv.index("-i")
    assert argv[i + 1].endswith(Path(BY_ID).name)
    before = argv[:i]
    for opt, val in (
        ("-f", "v4l2"),
        ("-input_format", "mjpeg"),
        ("-video_size", "1920x1080"),
        ("-framerate", "30"),
    ):
        assert before[before.index(opt) + 1] == val
    assert argv[argv.index("-c:v") + 1] == "copy"
    assert cmd.outputs[0].path.name == "presenter.mkv"
    assert cmd.outputs[0].flavor == "presenter/source"


def test_raw_format_is_encoded_even_when_copy_is_asked(
    tree: Tree, prober: RecordedProber, tmp_path: Path
) -> None:
    driver = _driver(tree, prober, device=BY_ID, input_format="yuyv422", video_codec="copy")
    argv = list(driver.command(make_ctx(driver, tmp_path / "rec")).argv)
    assert argv[argv.index("-c:v") + 1] == "libx264"
    assert argv[argv.index("-preset") + 1] == "veryfast"


def test_alsa_audio_muxed_and_pulse_audio_separate(
    tree: Tree, prober: RecordedProber, tmp_path: Path
) -> None:
    driver = _driver(tree, prober, device=BY_ID, audio="alsa", audio_device="hw:1")
    cmd = driver.command(make_ctx(driver, tmp_path / "a"))
    argv = list(cmd.argv)
    assert argv[argv.index("hw:1") - 3 : argv.index("hw:1") + 1] == ["-f", "alsa", "-i", "hw:1"]
    assert len(cmd.outputs) == 1

    driver = _driver(
        tree, prober, device=BY_ID, audio="pulse", audio_device="mic", audio_mode="separate"
    )
    cmd = driver.command(make_ctx(driver, tmp_path / "b"))
    argv = list(cmd.argv)
    assert argv[argv.index("mic") - 3 : argv.index("mic") + 1] == ["-f", "pulse", "-i", "mic"]
    assert [(o.path.name, o.flavor) for o in cmd.outputs] == [
        ("presenter.mkv", "presenter/source"),
        ("presenter-audio.mka", "presenter-audio/source"),
    ]
    # Each output takes only its own stream.
    assert argv.count("-map") == 2


def test_device_or_override_is_required() -> None:
    with pytest.raises(CaptureError, match="device"):
        make_driver()
