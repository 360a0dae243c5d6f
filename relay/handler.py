"""The hallway: request -> checks -> Dify -> renderer -> response. Every endpoint class calls ``relay_request``."""

import logging
from collections.abc import Mapping
from typing import Any

from werkzeug import Request, Response

from relay import access
from relay import request as parsing
from relay.apps import AppKind
from relay.catalog import Catalog, catalog_of
from relay.errors import RelayError, endpoint_not_configured, internal_error
from relay.form import app_form, render_form_page
from relay.formats import PageInfo, encode, render
from relay.invoke import fetch_parameters, start_invocation
from relay.pump import batches
from relay.request import Format
from relay.responses import body_response, error_response, page_response

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
        # A misconfigured or unconfigured endpoint says so to every request, before anything else.
        catalog = catalog_of(settings)
        if not catalog.configured:
            raise endpoint_not_configured()
        return _answer(session, request, str(values.get("app_id", "")), rules, catalog, kind, output, cors)
    except RelayError as error:
        return error_response(error, output, cors)
    except Exception:
        logger.exception("unexpected failure while relaying a %s request", request.method)
        return error_response(internal_error(), output, cors)


def _answer(
    session: Any,
    request: Request,
    reference: str,
    rules: access.AccessSettings,
    catalog: Catalog,
    kind: AppKind,
    output: Format,
    cors: dict[str, str],
) -> Response:
    # Who is asking comes first: nothing costly happens for a caller without the key.
    access.check_api_key(request, rules)
    parsing.check_body_size(request)
    app = catalog.resolve(reference, kind)
    app_id = app.app_id

    # A key typed into the html 401 page travels on in every later form POST, never in a URL.
    carried = _carried_key(request, rules)
    fields = parsing.read_fields(request)
    if output is Format.HTML and _wants_form(request, fields, kind):
        form = app_form(fetch_parameters(session, app_id))
        return page_response(render_form_page(form, kind, app, carried), cors, private=bool(carried))

    call = parsing.parse_call(fields, app_id, kind, output)
    parsing.check_call_size(call)
    if request.method == "HEAD":
        # A HEAD (link previews, uptime checks) gets the headers a GET would, without running, and paying
        # for, the app.
        return body_response(iter(()), output, cors)
    invocation = start_invocation(session, kind, call)
    page = PageInfo(kind=kind, app_id=app_id, app_name=app.name, query=call.query, carried=carried)
    if output.streams:
        # Through the pump: waiting events go out together, and a long silence gets a keep-alive.
        chunks = encode(output, batches(invocation.events()), page)
    else:
        # A JSON document is whole before its status goes out, so a fault while encoding it is still a 500.
        chunks = iter(list(render(output, invocation.events(), page)))
    return body_response(chunks, output, cors, private=bool(carried))


def _carried_key(request: Request, rules: access.AccessSettings) -> dict[str, str]:
    if not rules.api_keys or access.header_key(request) is not None or not parsing.is_form(request):
        return {}
    key = parsing.form_fields(request).get("api_key", "").strip()
    return {"api_key": key} if key else {}


def _wants_form(request: Request, fields: Mapping[str, Any], kind: AppKind) -> bool:
    """A browser that says nothing to the app yet (a bare GET, or the api key page's POST) gets the form."""
    said_nothing = not parsing.has_call_fields(fields, kind)
    return said_nothing and (request.method in ("GET", "HEAD") or parsing.is_form(request))
