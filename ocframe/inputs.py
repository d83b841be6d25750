"""The inputs of one agent: a driver instance per configured input.

Drivers are objects: one instance per input, kept across config reloads
while the input's spec is unchanged, closed when it is removed or changed
(running captures hold their own reference and finish undisturbed). Each
input has a device gate, so back-to-back events hand the device over.
"""

from __future__ import annotations

import logging

from .capture import DeviceGate
from .config import AgentConfig
from .driver import Driver
from .model import Event, InputSpec, printable
from .plugins import PluginRegistry


class InputSet:
    def __init__(self, agent: str, plugins: PluginRegistry, tools: dict[str, str]) -> None:
        self.agent = agent
        self.plugins = plugins
        self.tools = tools
        self.log = logging.getLogger(f"ocframe.agent.{agent}")
        self.drivers: dict[str, Driver] = {}
        self.specs: dict[str, InputSpec] = {}
        self.gates: dict[str, DeviceGate] = {}

    def configure(self, config: AgentConfig) -> None:
        """Build the drivers of ``config``'s inputs, reusing unchanged ones."""
        drivers: dict[str, Driver] = {}
        specs: dict[str, InputSpec] = {}
        for inp in config.inputs:
            cls = self.plugins.driver(inp.driver)
            spec = InputSpec(name=inp.name, agent=config.name, driver=inp.driver,
                             flavor=inp.flavor, settings=cls.Settings(**inp.settings),
                             tools=self.tools)
            old = self.drivers.get(inp.name)
            drivers[inp.name] = old if old is not None and self.specs.get(inp.name) == spec \
                else cls(spec)
            specs[inp.name] = spec
            self.gates.setdefault(inp.name, DeviceGate())
        for name, drv in self.drivers.items():
            if drivers.get(name) is not drv:
                self._close(name, drv)
        self.drivers, self.specs = drivers, specs

    def select(self, event: Event) -> list[str]:
        """The inputs an event asks for (``capture.device.names``); all when
        it names none or only unknown ones. Unknown names are logged."""
        unknown = [n for n in event.inputs or () if n not in self.specs]
        if unknown:
            self.log.warning("event %s asks for unknown input(s) %s; known: %s",
                             printable(event.uid), printable(", ".join(unknown)),
                             ", ".join(self.specs))
        return self.chosen(event)

    def chosen(self, event: Event) -> list[str]:
        """:meth:`select` without a word in the log (asked every tick)."""
        chosen = [n for n in event.inputs or () if n in self.specs]
        return chosen or list(self.specs)

    def capabilities(self) -> dict[str, str]:
        """``capture.device.names`` and each driver's ``capture.device.<input>.*``."""
        caps = {"capture.device.names": ",".join(self.specs)}
        for name, drv in self.drivers.items():
            try:
                for k, v in drv.capabilities().items():
                    caps[f"capture.device.{name}.{k}"] = str(v)
            except Exception as exc:
                self.log.warning("input %s: capabilities failed: %r", name, exc)
        return caps

    def close(self) -> None:
        for name, drv in self.drivers.items():
            self._close(name, drv)

    def _close(self, name: str, drv: Driver) -> None:
        try:
            drv.close()
        except Exception:
            self.log.exception("closing the driver of input %s failed", name)
