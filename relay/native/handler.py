"""The hallway: request -> checks -> Dify -> renderer -> response. Every endpoint class calls ``relay_request``."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from werkzeug import Request, Response

from relay.core import access
from relay.core.apps import AppKind
from relay.core.calls import AppCall, check_call_size
from relay.core.catalog import App, Catalog
from relay.core.errors import PageLink, RelayError, internal_error, invalid_request, shown
from relay.core.files import Remote, Upload, attach_files
from relay.core.http import check_body_size, form_fields, form_files, is_form
from relay.core.invoke import fetch_parameters, start_invocation, stream_patience
from relay.core.pump import keepalive_seconds
from relay.native import request as parsing
from relay.native.form import app_form, render_form_page
from relay.native.formats import PageInfo, encode, render
from relay.native.pages.i18n import language_of
from relay.native.request import Format
from relay.native.responses import body_response, error_response, page_response
from relay.native.transcript import read_transcript

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Exchange:
    """One request and what the relay knows about it before it answers."""

    session: Any
    request: Request
    settings: Mapping[str, Any]
    rules: access.AccessSettings
    kind: AppKind
    output: Format
    cors: dict[str, str]
    language: str
    carried: dict[str, str]
    """The api key a form POST carries on (the html pages'), to carry it further."""


def relay_request(
    session: Any, request: Request, values: Mapping[str, Any], settings: Mapping[str, Any], kind: AppKind
) -> Response:
    """Answer one HTTP request for an app of ``kind``. Never raises: every failure is a response."""
    rules = access.AccessSettings.from_settings(settings)
    if request.method == "OPTIONS":
        return Response(status=204, headers=access.preflight_headers(request, rules))
    cors = _negotiated(access.cors_headers(request, rules))

    language = language_of(request)
    # A browser gets its error as a page even when what it asked for is the thing that is wrong (?format=xml).
    output = parsing.accepted_format(request)
    carried: dict[str, str] = {}
    try:
        # Who is asking comes first: nothing costly happens for a caller without the key. Then an endpoint not
        # (or wrongly) set up says so to every request.
        catalog = access.admit(request, settings, rules)
        check_body_size(request)
        # A key typed into the html 401 page travels on in every later form POST, never in a URL: error pages too.
        carried = _carried_key(request, rules)
        output = parsing.choose_format(request)
        exchange = _Exchange(session, request, settings, rules, kind, output, cors, language, carried)
        return _answer(exchange, str(values.get("app_id", "")), catalog)
    except RelayError as error:
        return error_response(error, output, cors, language, carried=carried)
    except Exception:
        logger.exception("unexpected failure while relaying a %s request", request.method)
        return error_response(internal_error(), output, cors, language)


def _answer(exchange: _Exchange, reference: str, catalog: Catalog) -> Response:
    request, kind, output, cors, carried = (
        exchange.request,
        exchange.kind,
        exchange.output,
        exchange.cors,
        exchange.carried,
    )
    app = catalog.resolve(reference, kind)
    fields = parsing.read_fields(request)
    if output is Format.HTML and _wants_form(request, fields, kind):
        form = app_form(fetch_parameters(exchange.session, app.app_id))
        page = render_form_page(form, kind, app, carried, exchange.language)
        return page_response(page, cors, private=bool(carried))

    call = parsing.parse_call(fields, app.app_id, kind, output)
    if request.method == "POST" and is_form(request):
        call = attach_files(exchange.session, call, _files_by_input(form_files(request)), app.label)
    check_call_size(call)
    if request.method == "HEAD":
        # A HEAD (link previews, uptime checks) gets the headers a GET would, without running, and paying
        # for, the app.
        return body_response(iter(()), output, cors)
    try:
        patience = stream_patience() if output.streams else None
        invocation = start_invocation(exchange.session, kind, call, patience=patience)
    except RelayError as error:
        raise _with_hint(error, app, kind) from None
    if not output.streams:
        # A JSON document is whole before its status goes out, so a fault while encoding it is still a 500.
        chunks = iter(list(render(output, invocation.events(), PageInfo(kind, app.app_id))))
        return body_response(chunks, output, cors)
    page = _page_info(exchange, app, call, fields, carried) if output is Format.HTML else PageInfo(kind, app.app_id)
    # Through the pump: waiting events go out together, and a long silence gets a keep-alive.
    chunks = encode(output, invocation.batches(keepalive_seconds()), page)
    return body_response(chunks, output, cors, private=bool(carried), as_text=_browser_opened_a_link(request, output))


def _page_info(
    exchange: _Exchange, app: App, call: AppCall, fields: Mapping[str, Any], carried: dict[str, str]
) -> PageInfo:
    """What the html page shows around the answer: the conversation so far, or the inputs and a form to run again."""
    kind = exchange.kind
    form = None
    if not kind.takes_query:
        try:
            form = app_form(fetch_parameters(exchange.session, app.app_id))
        except RelayError:
            form = None  # no "Run again" then; the answer itself matters more
    return PageInfo(
        kind=kind,
        app_id=app.app_id,
        app_name=app.name,
        query=call.query,
        carried=carried,
        language=exchange.language,
        transcript=tuple(read_transcript(fields.get("transcript"))) if kind.takes_query else (),
        inputs=call.inputs,
        form=form,
        show_cost=_enabled(exchange.settings.get("show_usage_cost")),
        restart_href=_bare_url(exchange.request),
    )


def _with_hint(error: RelayError, app: App, kind: AppKind) -> RelayError:
    """A chat app called through another path gets no query: say where it answers."""
    if error.message != "missing query" or kind.takes_query:
        return error
    href = f"../chat/{quote(app.label)}"
    return replace(
        error,
        message=f"missing query: {app.label} looks like a chat app; call it at /chat/{app.label}.",
        link=PageLink("This app looks like a chat app:", "open it as a chat", href),
    )


def _files_by_input(parts: Mapping[str, list[Upload]]) -> dict[str, list[Upload | Remote]]:
    """File parts named ``inputs.<name>``, by input name."""
    found: dict[str, list[Upload | Remote]] = {}
    for name, uploads in parts.items():
        variable = name.removeprefix("inputs.")
        if not name.startswith("inputs.") or not variable:
            raise invalid_request(f"File parts must be named inputs.<name>, not {shown(name)}.")
        found[variable] = list(uploads)
    return found


def _negotiated(headers: dict[str, str]) -> dict[str, str]:
    """Every answer here depends on ``Accept`` (the format) and ``Accept-Language`` (the page's language): caches
    must know, beside ``Origin`` when CORS is on. One header, as the daemon keeps one value per name."""
    vary = ", ".join(filter(None, (headers.get("Vary"), "Accept", "Accept-Language")))
    return headers | {"Vary": vary}


def _browser_opened_a_link(request: Request, output: Format) -> bool:
    """A browser following an ndjson or sse link (``?format=``): it prefers html, and was given a stream."""
    return output in (Format.NDJSON, Format.SSE) and parsing.accepted_format(request) is Format.HTML


def _bare_url(request: Request) -> str:
    """The app's URL relative to this page, without query: opening it shows the app's form."""
    return "./" + quote(request.path.rstrip("/").rsplit("/", 1)[-1])


def _enabled(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes", "on")


def _carried_key(request: Request, rules: access.AccessSettings) -> dict[str, str]:
    if not rules.api_keys or access.header_key(request) is not None or not is_form(request):
        return {}
    key = form_fields(request).get("api_key", "").strip()
    return {"api_key": key} if key else {}


def _wants_form(request: Request, fields: Mapping[str, Any], kind: AppKind) -> bool:
    """A browser that says nothing to the app yet (a bare GET, or the api key page's POST) gets the form."""
    said_nothing = not parsing.has_call_fields(fields, kind)
    return said_nothing and (request.method in ("GET", "HEAD") or is_form(request))
