"""``python -m ocframe.testing``, documented before the simulator left the kernel:
kept, deprecated, for one minor release; it runs ``python -m ocframe_simulator``."""

import sys

print("python -m ocframe.testing is deprecated: use python -m ocframe_simulator "
      "or ocframe simulator", file=sys.stderr)
try:
    from ocframe_simulator.cli import main
except ModuleNotFoundError as exc:
    if exc.name != "ocframe_simulator":
        raise
    print("the simulator is the ocframe-simulator distribution, which is not installed: "
          "pip install ocframe-simulator", file=sys.stderr)
    raise SystemExit(2) from None
raise SystemExit(main())
