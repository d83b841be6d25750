"""ocframe-web: the operator's status page, JSON API and Prometheus metrics
of a running agent, and the ``ocframe status`` / ``ocframe record`` commands.

Attaches through the kernel's public API only: the
``ocframe_service_started`` hook hands it an :class:`ocframe.status.StatusView`
and an :class:`ocframe.control.Control`. See docs/web.md.
"""
