"""Multi-request ingest: the method Opencast recommends for capture agents.

The media package is created (with the event UID as its id, so the core
links it to the scheduled event; or with a random id and the legacy
``workflowInstanceId`` link), each element is added by its own streamed
request, then ``ingest`` starts the workflow. The media package returned by
every step is saved in the job's checkpoint, so a failed element is retried
alone and, after a crash, only the elements the core does not have yet are
sent again. Each answer is checked: the new element must carry the size
(and MD5) of what was sent.

The sequence is the kernel's :class:`ocframe.ingest.elements.ElementByElementIngest`
(the chunked strategy builds on it too); this distribution names it a method.
"""

from __future__ import annotations

from typing import ClassVar

from ocframe.ingest import StrategySettings
from ocframe.ingest.elements import ElementByElementIngest
from ocframe.ingest.support import UploadSettings


class MultiRequestSettings(UploadSettings):
    pass


class MultiRequestIngest(ElementByElementIngest):
    Settings: ClassVar[type[StrategySettings]] = MultiRequestSettings
    prefix: ClassVar[str] = "multirequest."


__all__ = ["MultiRequestIngest", "MultiRequestSettings"]
