from pathlib import Path

import pytest
from ocframe_driver_v4l2 import DeviceNotFound, RecordedProber, Roots, discover
from ocframe_driver_v4l2.discovery import SYSFS_ENV, main, resolve
from ocframe_driver_v4l2.testing import BY_ID, BY_PATH, CAMERA, CARD, Tree


def test_discover_lists_nodes_with_stable_links(tree: Tree) -> None:
    nodes = discover(Roots(tree.sysfs, tree.dev))
    assert [(n.node, n.name, n.index) for n in nodes] == [
        ("video0", CAMERA, 0),
        ("video1", CAMERA, 1),
        ("video2", CARD, 0),
    ]
    assert set(nodes[0].links) == {BY_ID, BY_PATH}


def _is_capture(prober: RecordedProber):
    return lambda node: prober.probe(node.path).capture


def test_resolve_by_id_path(tree: Tree, prober: RecordedProber) -> None:
    node = resolve(BY_ID, Roots(tree.sysfs, tree.dev), _is_capture(prober))
    assert node.node == "video0" and node.name == CAMERA
    assert node.path == tree.dev / "v4l" / "by-id" / Path(BY_ID).name


def test_resolve_by_name_skips_the_metadata_node(tree: Tree, prober: RecordedProber) -> None:
    # Make the metadata node come first so the choice cannot be luck.
    (tree.sysfs / "class/video4linux/video1/index").write_text("0\n")
    (tree.sysfs / "class/video4linux/video0/index").write_text("1\n")
    node = resolve(CAMERA, Roots(tree.sysfs, tree.dev), _is_capture(prober))
    assert node.node == "video0"


def test_resolve_by_name_is_case_insensitive_as_a_fallback(
    tree: Tree, prober: RecordedProber
) -> None:
    assert resolve(CARD.upper(), Roots(tree.sysfs, tree.dev), _is_capture(prober)).node == "video2"


def test_missing_devices_say_what_is_present(tree: Tree, prober: RecordedProber) -> None:
    roots = Roots(tree.sysfs, tree.dev)
    with pytest.raises(DeviceNotFound, match="not present"):
        resolve("/dev/v4l/by-id/usb-gone-video-index0", roots, _is_capture(prober))
    with pytest.raises(DeviceNotFound, match=r"present: video0 \(HD Pro"):
        resolve("Nonexistent Cam", roots, _is_capture(prober))


def test_roots_from_environment(tree: Tree, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv(SYSFS_ENV, str(tree.sysfs))
    monkeypatch.setenv("OCFRAME_V4L2_DEV_ROOT", str(tree.dev))
    roots = Roots.from_settings()
    assert roots == Roots(tree.sysfs, tree.dev)
    assert main([]) == 0
    out = capsys.readouterr().out
    assert BY_ID in out and CARD in out


def test_discover_survives_an_index_that_only_looks_like_a_number(tree: Tree) -> None:
    """'²'.isdigit() is true but int('²') raises: one odd sysfs file must not
    hide every camera."""
    (tree.sysfs / "class" / "video4linux" / "video1" / "index").write_text("²\n")
    nodes = discover(Roots(tree.sysfs, tree.dev))
    assert [(n.node, n.index) for n in nodes] == [("video0", 0), ("video1", 0), ("video2", 0)]
