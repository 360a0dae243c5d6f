"""The hallway: request -> checks -> Dify -> renderer -> response. Every endpoint class calls ``relay_request``."""

import logging
from collections.abc import Mapping
from typing import Any

from werkzeug import Request, Response

from relay import access
from relay import request as parsing
from relay.apps import AppKind
from relay.errors import GENERIC_FAILURE, RelayError, invalid_request
from relay.formats import render
from relay.invoke import start_invocation
from relay.request import Format
from relay.responses import body_response, error_response

logger = logging.getLogger(__name__)


def relay_request(
    session: Any, request: Request, values: Mapping[str, Any], settings: Mapping[str, Any], kind: AppKind
) -> Response:
    """Answer one HTTP request for an app of ``kind``. Never raises: every failure is a response."""
    rules = access.AccessSettings.from_settings(settings)
    cors = access.cors_headers(request, rules)
    if request.method == "OPTIONS":
        return Response(status=204, headers=access.preflight_headers(request, rules))

    output = Format.JSON
    try:
        output = parsing.choose_format(request)
        return _answer(session, request, str(values.get("app_id", "")), rules, kind, output, cors)
    except RelayError as error:
        return error_response(error, output, cors)
    except Exception:
        logger.exception("unexpected failure while relaying %s %s", request.method, request.path)
        return error_response(RelayError(500, "internal_error", GENERIC_FAILURE), output, cors)


def _answer(
    session: Any,
    request: Request,
    app_id: str,
    rules: access.AccessSettings,
    kind: AppKind,
    output: Format,
    cors: dict[str, str],
) -> Response:
    parsing.check_body_size(request)
    form_fields = dict(request.form) if parsing.is_form(request) else None
    access.check_api_key(request, rules, form_fields)
    app_id = parsing.check_app_id(app_id)
    access.check_app_allowed(app_id, rules)

    fields = parsing.read_fields(request)
    if output is Format.HTML and request.method in ("GET", "HEAD") and not parsing.has_call_fields(fields, kind):
        raise invalid_request(_bare_get_message(kind))
    call = parsing.parse_call(fields, app_id, kind, output)

    invocation = start_invocation(session, kind, call)
    return body_response(render(output, invocation.events(), kind, app_id, call.query), output, cors)


def _bare_get_message(kind: AppKind) -> str:
    if kind.takes_query:
        return "Add ?query=<your message> to the URL, or POST a JSON body with a query."
    return "Add ?inputs.<name>=<value> to the URL, or POST a JSON body with inputs."
