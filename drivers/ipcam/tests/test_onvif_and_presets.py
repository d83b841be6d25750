"""ONVIF and vendor CGI against the camera stub (no RTSP needed)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from ocframe_driver_ipcam.testing import CameraStub


@pytest.fixture
def camera():
    # Two hours ahead: without skew correction every UsernameToken is refused.
    with CameraStub(
        username="onvif",
        password="dig3st!",
        clock_offset=timedelta(hours=2),
        stream_uri="rtsp://127.0.0.1:8554/main",
    ) as stub:
        yield stub


def _onvif(make_driver, camera: CameraStub, **extra):
    return make_driver(
        onvif=True,
        onvif_host="127.0.0.1",
        onvif_port=camera.port,
        username="onvif",
        password="dig3st!",
        **extra,
    )


def test_stream_uri_and_goto_preset_with_skewed_clock(make_driver, make_ctx, camera) -> None:
    driver = _onvif(make_driver, camera, onvif_profile="sub", onvif_preset="preset-3")
    driver.prepare(make_ctx(driver))
    assert driver.stream_url() == "rtsp://127.0.0.1:8554/main"
    assert ("onvif-stream-uri", "profile_2") in camera.requests
    assert ("onvif-preset", "profile_2/preset-3") in camera.requests
    assert camera.auth_failures == []
    assert driver.capabilities()["device"] == "rtsp://127.0.0.1:8554/main"


def test_wrong_onvif_password_is_reported(make_driver, camera) -> None:
    driver = make_driver(
        onvif=True,
        onvif_host="127.0.0.1",
        onvif_port=camera.port,
        username="onvif",
        password="wrong",
    )
    checks = {c.name: c for c in driver.check()}
    assert checks["ONVIF reachable"].ok
    assert "clock skew 1:59:5" in checks["ONVIF reachable"].detail
    assert not checks["ONVIF credentials accepted"].ok
    assert "stream answers" not in checks  # no URI to probe without ONVIF
    assert set(camera.auth_failures) == {"bad digest"}


def test_onvif_unreachable(make_driver) -> None:
    driver = make_driver(onvif=True, onvif_host="127.0.0.1", onvif_port=9, http_timeout=1)
    checks = {c.name: c for c in driver.check()}
    assert not checks["ONVIF reachable"].ok


@pytest.mark.parametrize(
    ("vendor", "preset", "expected"),
    [
        ("panasonic", "5", ("panasonic", "cmd=%23R04&res=1")),
        ("sony", "3", ("sony", "3")),
        ("axis", "Lectern left", ("axis", "Lectern left")),
    ],
)
def test_vendor_preset_recall(make_driver, make_ctx, vendor, preset, expected) -> None:
    with CameraStub(username="admin", password="s3cret") as camera:
        driver = make_driver(
            url="rtsp://127.0.0.1/stream",
            username="admin",
            password="s3cret",
            preset_vendor=vendor,
            preset=preset,
            preset_base_url=camera.base_url,
        )
        driver.prepare(make_ctx(driver))
        assert camera.requests == [expected]


def test_failed_preset_does_not_fail_the_capture(make_driver, make_ctx, caplog) -> None:
    with CameraStub(username="admin", password="s3cret") as camera:
        driver = make_driver(
            url="rtsp://127.0.0.1/stream",
            username="admin",
            password="bad",
            preset_vendor="sony",
            preset="2",
            preset_base_url=camera.base_url,
        )
        with caplog.at_level(logging.WARNING):
            driver.prepare(make_ctx(driver))
        assert camera.requests == []
        assert "credentials rejected (401)" in caplog.text
        assert "bad" not in caplog.text.replace("bad digest", "")
