"""The native surface: ``/chat|/workflow|/completion/<app>`` — request -> Dify -> one of four renderers.

The shell (``relay.core.shell``) has checked the caller (a form POST may carry the key: the pages' key field), the
endpoint's apps and the body's size; this module reads the request, calls the app and chooses the renderer.
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from werkzeug import Request, Response

from relay.core.access import header_key
from relay.core.apps import AppKind
from relay.core.calls import AppCall, check_call_size
from relay.core.catalog import App
from relay.core.dify import Dify
from relay.core.errors import RelayError, invalid_request, shown
from relay.core.files import Remote, Upload, attach_files
from relay.core.http import form_fields, form_files, is_form
from relay.core.invoke import start_invocation, stream_patience
from relay.core.pump import keepalive_seconds
from relay.core.shell import Exchange
from relay.native import request as parsing
from relay.native.form import app_form, render_form_page
from relay.native.formats import PageInfo, encode, render
from relay.native.pages.i18n import language_of
from relay.native.request import Format
from relay.native.responses import PageLink, body_response, error_response, page_response
from relay.native.transcript import read_transcript


@dataclass(frozen=True)
class NativeSurface:
    """One app type's path: ``/<kind>/<app>``."""

    kind: AppKind
    name: str = "native"
    methods: tuple[str, ...] = ("GET", "POST")
    expose_headers: tuple[str, ...] = ()
    vary: tuple[str, ...] = ("Accept", "Accept-Language")
    """The format follows ``Accept``, a page's language ``Accept-Language``: caches must know."""
    form_key: bool = True
    """The html 401 page asks for the key in a form field, which then travels on in every form POST."""
    foreign_origins: bool = True
    public: bool = False

    def answer(self, exchange: Exchange) -> Response:
        return _answer(exchange, self.kind)

    def error(self, error: RelayError, exchange: Exchange) -> Response:
        request = exchange.request
        try:
            output = parsing.choose_format(request)
        except RelayError:  # a browser gets its error as a page even when what it asked for is wrong (?format=xml)
            output = parsing.accepted_format(request)
        carried = _carried_key(exchange) if exchange.admitted else {}
        error, link = _advised(error, self.kind, output)
        return error_response(error, output, exchange.cors, language_of(request), carried=carried, link=link)


def _answer(exchange: Exchange, kind: AppKind) -> Response:
    request, cors, dify = exchange.request, exchange.cors, exchange.dify
    carried = _carried_key(exchange)
    language = language_of(request)
    output = parsing.choose_format(request)
    app = exchange.apps.resolve(str(exchange.values.get("app_id", "")), kind)
    fields = parsing.read_fields(request)
    if output is Format.HTML and _wants_form(request, fields, kind):
        form = app_form(dify.parameters(app.app_id))
        page = render_form_page(form, kind, app, carried, language)
        return page_response(page, cors, private=bool(carried))

    call = parsing.parse_call(fields, app.app_id, kind, output)
    if request.method == "POST" and is_form(request):
        files = _files_by_input(form_files(request))
        if request.mimetype == "multipart/form-data":
            _check_no_text_for_files(dify, app, fields, files)
        call = attach_files(dify, call, files, app.label)
    check_call_size(call)
    if request.method == "HEAD":
        # A HEAD (link previews, uptime checks) gets the headers a GET would, without running, and paying
        # for, the app.
        return body_response(iter(()), output, cors)
    patience = stream_patience() if output.streams else None
    try:
        invocation = start_invocation(dify, kind, call, patience=patience)
    except RelayError as error:
        raise replace(error, app=error.app or app.label) from None
    if not output.streams:
        # A JSON document is whole before its status goes out, so a fault while encoding it is still a 500.
        chunks = iter(list(render(output, invocation.events(), PageInfo(kind, app.app_id))))
        return body_response(chunks, output, cors)
    page = (
        _page_info(exchange, kind, app, call, fields, carried, language)
        if output is Format.HTML
        else PageInfo(kind, app.app_id)
    )
    # Through the pump: waiting events go out together, and a long silence gets a keep-alive.
    chunks = encode(output, invocation.batches(keepalive_seconds()), page)
    return body_response(chunks, output, cors, private=bool(carried), as_text=_browser_opened_a_link(request, output))


def _page_info(
    exchange: Exchange,
    kind: AppKind,
    app: App,
    call: AppCall,
    fields: Mapping[str, Any],
    carried: dict[str, str],
    language: str,
) -> PageInfo:
    """What the html page shows around the answer: the conversation so far, or the inputs and a form to run again."""
    form = None
    if not kind.takes_query:
        try:
            form = app_form(exchange.dify.parameters(app.app_id))
        except RelayError:
            form = None  # no "Run again" then; the answer itself matters more
    return PageInfo(
        kind=kind,
        app_id=app.app_id,
        app_name=app.name,
        query=call.query,
        carried=carried,
        language=language,
        transcript=tuple(read_transcript(fields.get("transcript"))) if kind.takes_query else (),
        inputs=call.inputs,
        form=form,
        show_cost=_enabled(exchange.settings.get("show_usage_cost")),
        restart_href=_bare_url(exchange.request),
    )


_RIGHT_TYPE = {
    "chat": "This is a chat app:",
    "workflow": "This is a workflow app:",
    "completion": "This is a completion app:",
}
"""What an html error page says above the link to the right path (fixed sentences, so pages can translate them)."""


def _advised(error: RelayError, kind: AppKind, output: Format) -> tuple[RelayError, PageLink | None]:
    """The core's error with this surface's advice: the path an app answers at, the response mode that works.
    Links are relative to the page that was opened, /<kind>/<app>: the same endpoint, whatever its base URL."""
    if error.reason == "wrong_app_type" and error.app and error.app_kind:
        path = f"/{error.app_kind}/{error.app}"
        message = f"{error.message} Call it at {path}, not /{kind.name}/."
        link = PageLink(
            _RIGHT_TYPE[error.app_kind], "open it at its own path", f"../{error.app_kind}/{quote(error.app)}"
        )
        return replace(error, message=message), link
    if error.message == "missing query" and not kind.takes_query:
        # A chat app called through another path gets no query: say where it answers.
        app = error.app or ""
        if not app:
            return error, None
        message = f"missing query: {app} looks like a chat app; call it at /chat/{app}."
        link = PageLink("This app looks like a chat app:", "open it as a chat", f"../chat/{quote(app)}")
        return replace(error, message=message), link
    if error.reason == "blocking_unsupported":
        return replace(error, message=f"{error.message}. Use response_mode=streaming (ndjson, sse or html)."), None
    if error.reason == "blocking_hides_error":
        advice = " Send the same request with response_mode=streaming to read it."
        return replace(error, message=error.message + advice), None
    return error, None


def _check_no_text_for_files(
    dify: Dify, app: App, fields: Mapping[str, Any], files: Mapping[str, list[Upload | Remote]]
) -> None:
    """A multipart text field for a file input is a file part gone wrong (a file name with a line break ends its
    part's header early, and the part reads as text): refused here, before Dify is called."""
    texts = {name.removeprefix("inputs.") for name in fields if name.startswith("inputs.")} - set(files)
    if not texts:
        return
    file_inputs = set(dify.parameters(app.app_id).file_inputs())
    wrong = sorted(texts & file_inputs)
    if wrong:
        raise invalid_request(
            f"{shown(wrong[0])} is a file input of {app.label}, and its part holds no file: send the file as a part "
            "with a file name (without line breaks or NUL), or leave the field out."
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


def _browser_opened_a_link(request: Request, output: Format) -> bool:
    """A browser following an ndjson or sse link (``?format=``): it prefers html, and was given a stream."""
    return output in (Format.NDJSON, Format.SSE) and parsing.accepted_format(request) is Format.HTML


def _bare_url(request: Request) -> str:
    """The app's URL relative to this page, without query: opening it shows the app's form."""
    return "./" + quote(request.path.rstrip("/").rsplit("/", 1)[-1])


def _enabled(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes", "on")


def _carried_key(exchange: Exchange) -> dict[str, str]:
    """The api key a form POST carries (typed into the html 401 page), to carry it on in every later form POST
    and link: never in a URL."""
    request = exchange.request
    if not exchange.rules.api_keys or header_key(request) is not None or not is_form(request):
        return {}
    key = form_fields(request).get("api_key", "").strip()
    return {"api_key": key} if key else {}


def _wants_form(request: Request, fields: Mapping[str, Any], kind: AppKind) -> bool:
    """A browser that says nothing to the app yet (a bare GET, or the api key page's POST) gets the form."""
    said_nothing = not parsing.has_call_fields(fields, kind)
    return said_nothing and (request.method in ("GET", "HEAD") or is_form(request))
