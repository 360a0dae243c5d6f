"""What every fuzz test holds an answer to, whatever the surface."""

from collections.abc import Generator

from werkzeug import Response

from relay.core.limits import MAX_CHUNK_BYTES
from tests import declarations

LEAKS = ("Traceback (most recent call last)", str(declarations.ROOT), "site-packages")
"""What no body may hold: a traceback, or where the plugin lives."""


def checked_body(response: Response, *, bodiless: tuple[int, ...] = (204,)) -> str:
    """The body of an in-process answer, once it streams as the SDK needs (a generator: anything else goes out as
    one message), in slices the daemon carries, and leaks nothing (``LEAKS``). ``bodiless``: statuses that may
    come without a generator."""
    if response.status_code not in bodiless:
        assert isinstance(response.response, Generator), "a body the SDK would send as one message"
    chunks = list(response.response)
    assert all(len(chunk) <= MAX_CHUNK_BYTES for chunk in chunks)
    text = b"".join(chunks).decode("utf-8")
    for leak in LEAKS:
        assert leak not in text
    return text
