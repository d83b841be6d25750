"""ocframe driver for Epiphan Pearl recorders, and an emulated Pearl to test with."""

from .driver import EpiphanDriver, EpiphanSettings

__all__ = ["EpiphanDriver", "EpiphanSettings"]
