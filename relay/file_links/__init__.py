"""``/files/<token>/<name>``: the files clients sent as bytes, served to Dify while the app reads them.

Dify reads a file input only by fetching its URL (``relay.core.served`` says why and how long a file stays). This
surface answers those fetches: a valid, unexpired address of this endpoint gets the bytes (``GET``, or the headers
alone for the ``HEAD`` Dify sends first); anything else is a 404 that says nothing of what exists. No api key:
Dify fetches without one, and the signed address is the proof.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug import Request, Response

from relay.core import shell
from relay.core.dify import DifySession
from relay.core.errors import RelayError
from relay.core.responses import NO_SNIFF, json_response, streamed_response
from relay.core.served import SERVED, FileSigner
from relay.core.shell import Exchange
from relay.core.stream import sliced

NOT_FOUND = RelayError(404, "file_not_found", "No such file here, or its address has expired.")


@dataclass(frozen=True)
class FileLinksSurface:
    name: str = "files"
    methods: tuple[str, ...] = ("GET",)
    expose_headers: tuple[str, ...] = ()
    vary: tuple[str, ...] = ()
    form_key: bool = False
    foreign_origins: bool = True
    public: bool = True

    def answer(self, exchange: Exchange) -> Response:
        signer = FileSigner(exchange.dify.storage, exchange.dify.endpoint_id)
        ident = signer.check(str(exchange.values.get("token", "")))
        served = SERVED.get(ident) if ident is not None else None
        if served is None:
            raise NOT_FOUND
        headers = {
            "Cache-Control": "private, no-store",
            "Content-Disposition": "attachment",
            "Content-Length": str(len(served.content)),
        }
        body = iter(()) if exchange.request.method == "HEAD" else sliced([served.content])
        return streamed_response(body, 200, headers, served.mimetype)

    def error(self, error: RelayError, exchange: Exchange) -> Response:
        return json_response(error.body(), error.status, exchange.cors | error.headers | NO_SNIFF)


FILE_LINKS = FileLinksSurface()


def serve(session: DifySession, request: Request, values: Mapping[str, Any], settings: Mapping[str, Any]) -> Response:
    """Answer one fetch of a served file. Never raises."""
    return shell.serve(FILE_LINKS, session, request, values, settings)


__all__ = ["serve"]
