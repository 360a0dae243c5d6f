"""HTML: a complete page that grows as events arrive and needs no JavaScript, in the reader's language.

The page is written top to bottom as events come (``page.StreamedPage``); around them it shows the app, the
conversation so far and the question, and ends with what a person can do next: reply (the conversation carried
on), or run the app again with the same inputs. Every value is escaped by the Jinja macros.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from relay.core.apps import AppKind
from relay.native.formats.html.page import StreamedPage
from relay.native.formats.markdown import render_markdown
from relay.native.pages import app_title, fragments, page_title, render_page
from relay.native.pages.i18n import Translate, translator
from relay.native.transcript import Turn, write_transcript

KEEPALIVE = b"<!-- keep-alive -->"
"""Invisible on the page, even inside an open answer; proxies see bytes flow."""


@dataclass(frozen=True)
class PageInfo:
    """What the page says around the events."""

    kind: AppKind
    app_id: str
    app_name: str | None = None
    query: str | None = None
    carried: Mapping[str, str] = field(default_factory=dict)
    """Hidden fields for the next form (an api key a person typed into a form)."""
    language: str = "en"
    transcript: tuple[Turn, ...] = ()
    """Earlier turns of the conversation, shown above this one and carried on."""
    inputs: Mapping[str, Any] = field(default_factory=dict)
    form: Any = None
    """The app's form (``relay.native.form.AppForm``) for "Run again", when the app's parameters could be read."""
    show_cost: bool = False
    restart_href: str = ""
    """Where "New conversation" and "Run again" lead: the app's bare URL, which opens its form."""


class HtmlEncoder:
    """The page, piece by piece: its head, one piece per event, and its end (closed blocks, what comes next)."""

    def __init__(self, info: PageInfo) -> None:
        self.info = info
        self.macros = fragments(info.language)
        self.t = translator(info.language)
        self.page = StreamedPage(
            self.macros,
            self.t,
            chat=info.kind.takes_query,
            show_cost=info.show_cost,
            back_href="" if info.carried else info.restart_href,  # a plain link would lose a typed key
        )

    def start(self) -> bytes:
        info = self.info
        kind_label = self.t(info.kind.label.capitalize())
        head = render_page(
            "page_start.html",
            info.language,
            title=page_title(info.app_name, info.app_id, kind_label),
            kind=info.kind.name,
            app_title=app_title(info.app_name, info.app_id),
            kind_label=kind_label,
        )
        head += str(self.macros.earlier([(asked, render_markdown(answer)) for asked, answer in info.transcript]))
        if info.query:
            head += str(self.macros.question(info.query, True))
        if info.inputs and not info.kind.takes_query:
            used = [(name, _shown(value, self.t)) for name, value in info.inputs.items() if value not in ("", None)]
            head += str(self.macros.inputs_used(used))
        return _utf8(head)

    def event(self, event: Any) -> bytes:
        return _utf8(self.page.add(event))

    def keepalive(self) -> bytes:
        return KEEPALIVE

    def failure(self, error: dict[str, Any]) -> bytes:
        # Whatever an event held, the page still ends as a page: its open block closed, the error shown.
        return _utf8(self.page.add(error))

    def end(self) -> bytes:
        info, page = self.info, self.page
        ending = page.close_block() + page.pending_run_facts()
        if not (page.failed or page.paused):
            ending += str(self.macros.done())
        if info.kind.takes_query:
            # With JavaScript off a form is the only way to go on; it carries the conversation on.
            turns = [*info.transcript, (info.query or "", page.answer.value())]
            ending += str(
                self.macros.follow_up(
                    page.conversation_id or "", info.carried, write_transcript(turns), info.restart_href
                )
            )
        elif info.form is not None:
            values = {name: _shown(value, self.t) for name, value in info.inputs.items()}
            ending += str(self.macros.run_again(info.form, info.carried, values))
        return _utf8(ending + render_page("page_end.html", info.language))


def _shown(value: Any, t: Translate) -> str:
    """An input as the page lists it: files by how many there were (their content went to Dify, not here)."""
    if isinstance(value, dict) and "transfer_method" in value:
        return t("(file)")
    if (
        isinstance(value, list)
        and value
        and all(isinstance(item, dict) and "transfer_method" in item for item in value)
    ):
        return t("({} files)").format(len(value))
    return value if isinstance(value, str) else str(value)


def _utf8(text: str) -> bytes:
    # Dify's JSON may hold lone surrogates, which UTF-8 cannot carry: show a replacement character instead.
    return text.encode("utf-8", "replace")


__all__ = ["KEEPALIVE", "HtmlEncoder", "PageInfo"]
