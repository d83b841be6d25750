"""Testing Blackmagic setups without the hardware: the HyperDeck emulator
(:mod:`.hyperdeck`, also ``ocframe hyperdeck-emulator``).

Its FTP server needs the driver's ``[testing]`` extra
(``pip install 'ocframe-driver-blackmagic[testing]'``); the drivers do not.
"""

from .hyperdeck import HyperDeckEmulator

__all__ = ["HyperDeckEmulator"]
