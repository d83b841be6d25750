"""Blackmagic Design drivers for ocframe.

- ``hyperdeck``: a HyperDeck recorder driven over its Ethernet protocol,
  clips fetched by FTP (:mod:`.hyperdeck`).
- ``decklink``: a DeckLink capture card recorded with GStreamer or ffmpeg
  (:mod:`.decklink`).
- ``ocframe hyperdeck-emulator``: an emulated HyperDeck for testing setups
  (:mod:`.testing`, with the ``[testing]`` extra).
"""

__version__ = "0.1.0"
