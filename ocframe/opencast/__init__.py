"""Talking to the Opencast core: HTTP and auth, the service registry,
capture-admin, the calendar, and the helpers ingest strategies use."""
