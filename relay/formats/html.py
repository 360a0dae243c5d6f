"""HTML: a complete page that grows as events arrive and needs no JavaScript.

The page is written top to bottom as events come. Text deltas are appended inside an open element, so a
browser shows the answer growing; a different kind of event closes that element and opens its own
block (a tool call, the workflow's node list...). Every value is escaped by the Jinja macros.
"""

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from relay.apps import AppKind
from relay.formats.markdown import MarkdownStream, render_markdown
from relay.pages import fragments, render_page


@dataclass(frozen=True)
class PageInfo:
    """What the page says around the events: which app, the question asked, fields to carry on."""

    kind: AppKind
    app_id: str
    app_name: str | None = None
    query: str | None = None
    carried: Mapping[str, str] = field(default_factory=dict)
    """Hidden fields for the follow-up form (an api key a person typed into a form)."""


KEEPALIVE = b"<!-- keep-alive -->"
"""Invisible on the page, even inside an open answer; proxies see bytes flow."""


class HtmlEncoder:
    """The page, piece by piece: its head, one piece per event, and its end (closed blocks, the follow-up)."""

    def __init__(self, info: PageInfo) -> None:
        self.info = info
        self.page = _StreamedPage(fragments())

    def start(self) -> bytes:
        info = self.info
        head = render_page(
            "page_start.html",
            title=info.kind.label.capitalize(),
            kind=info.kind.name,
            app_id=info.app_id,
            app_name=info.app_name,
        )
        if info.query:
            head += str(self.page.macros.question(info.query))
        return _utf8(head)

    def event(self, event: Any) -> bytes:
        return _utf8(self.page.add(event))

    def keepalive(self) -> bytes:
        return KEEPALIVE

    def failure(self, error: dict[str, Any]) -> bytes:
        # Whatever an event held, the page still ends as a page: its open block closed, the error shown.
        return _utf8(self.page.add(error))

    def end(self) -> bytes:
        page = self.page
        ending = page.close_block()
        if not (page.failed or page.paused):
            ending += str(page.macros.done())
        if self.info.kind.takes_query:
            # With JavaScript off a form is the only way to go on; it carries the conversation on.
            ending += str(page.macros.follow_up(page.conversation_id or "", self.info.carried))
        return _utf8(ending + render_page("page_end.html"))


def _utf8(text: str) -> bytes:
    # Dify's JSON may hold lone surrogates, which UTF-8 cannot carry: show a replacement character instead.
    return text.encode("utf-8", "replace")


class _StreamedPage:
    """Turns events into HTML pieces, remembering which block (answer, text, node list) is open."""

    def __init__(self, macros: Any) -> None:
        self.macros = macros
        self.open_block: str | None = None
        self.markdown = MarkdownStream()
        self.conversation_id: str | None = None
        self.failed = False
        """Whether an error was shown: the page then does not say "Done."."""
        self.paused = False
        """Whether the run paused for a person: not done either."""

    def add(self, event: Any) -> str:
        if not isinstance(event, dict):
            return ""  # nothing a page can show
        if isinstance(event.get("conversation_id"), str) and event["conversation_id"]:
            self.conversation_id = event["conversation_id"]
        name = event.get("event")
        if name is None and isinstance(event.get("data"), dict) and "outputs" in event["data"]:
            name = "workflow_finished"  # a blocking workflow result has no event name
        handler = getattr(self, f"_on_{name}", None)
        return handler(event) if handler else ""

    # -- blocks ------------------------------------------------------------------------------------------

    def switch_to(self, block: str | None) -> str:
        if block == self.open_block:
            return ""
        piece = self.close_block()
        self.open_block = block
        if block in ("answer", "text"):
            # Text blocks are markdown, streamed raw and rendered block by block (relay.formats.markdown).
            self.markdown = MarkdownStream()
            opener = self.macros.answer_open if block == "answer" else self.macros.text_open
            return piece + str(opener()) + self.markdown.open()
        return piece + (str(self.macros.nodes_open()) if block == "nodes" else "")

    def close_block(self) -> str:
        block, self.open_block = self.open_block, None
        if block in ("answer", "text"):
            return self.markdown.close() + str(self.macros.answer_close())
        return str(self.macros.nodes_close()) if block == "nodes" else ""

    def write(self, block: str, text: str) -> str:
        """Append ``text`` to the answer or streamed-text block, opening it if another block is open."""
        return self.switch_to(block) + self.markdown.feed(text)

    # -- chat, agent and completion events ---------------------------------------------------------------

    def _on_message(self, event: dict[str, Any]) -> str:
        piece = ""
        if event.get("answer"):
            piece = self.write("answer", str(event["answer"]))
        metadata = event.get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("usage"), dict):  # a blocking result's usage
            piece += self.switch_to(None) + self._usage(metadata["usage"])
        return piece

    _on_agent_message = _on_message

    def _on_agent_thought(self, event: dict[str, Any]) -> str:
        if not any(event.get(name) for name in ("thought", "tool", "observation")):
            return ""  # Dify announces each thought empty before filling it in
        return self.switch_to(None) + str(
            self.macros.thought(
                event.get("tool") or "",
                _readable(event.get("tool_input")),
                _readable(event.get("observation")),
                event.get("thought") or "",
            )
        )

    def _on_message_file(self, event: dict[str, Any]) -> str:
        return self.switch_to(None) + str(self.macros.file(_safe_url(event.get("url")), event.get("type") or "a"))

    def _on_message_replace(self, event: dict[str, Any]) -> str:
        return self.switch_to(None) + str(self.macros.replaced(render_markdown(str(event.get("answer") or ""))))

    def _on_message_end(self, event: dict[str, Any]) -> str:
        metadata = event.get("metadata") if isinstance(event.get("metadata"), dict) else {}
        usage = metadata.get("usage") if isinstance(metadata, dict) else None
        return self.switch_to(None) + (self._usage(usage) if isinstance(usage, dict) else "")

    def _usage(self, usage: dict[str, Any]) -> str:
        labels = (
            ("prompt_tokens", "prompt tokens"),
            ("completion_tokens", "completion tokens"),
            ("total_tokens", "total tokens"),
            ("latency", "latency (s)"),
        )
        items = [(label, usage[key]) for key, label in labels if usage.get(key) is not None]
        if usage.get("total_price") not in (None, "", "0", "0.0000000"):
            items.append(("price", f"{usage['total_price']} {usage.get('currency') or ''}".strip()))
        return str(self.macros.usage(items)) if items else ""

    # -- workflow events (workflow apps and chatflows) ---------------------------------------------------

    def _on_node_started(self, event: dict[str, Any]) -> str:
        data = _data(event)
        return self.switch_to("nodes") + str(self.macros.node_started(_title(data), data.get("node_type") or ""))

    def _on_node_finished(self, event: dict[str, Any]) -> str:
        data = _data(event)
        return self.switch_to("nodes") + str(
            self.macros.node_finished(
                _title(data),
                data.get("node_type") or "",
                _css_word(data.get("status") or "succeeded"),
                _number(data.get("elapsed_time")),
                data.get("error") or "",
            )
        )

    def _on_text_chunk(self, event: dict[str, Any]) -> str:
        text = _data(event).get("text")
        return self.write("text", str(text)) if text else ""

    def _on_workflow_finished(self, event: dict[str, Any]) -> str:
        data = _data(event)
        outputs = data.get("outputs") if isinstance(data.get("outputs"), dict) else {}
        items = [(name, *_output_value(value)) for name, value in outputs.items()]
        return self.switch_to(None) + str(
            self.macros.outputs(
                _css_word(data.get("status") or "succeeded"),
                items,
                data.get("error") or "",
                _number(data.get("elapsed_time")),
                data.get("total_tokens"),
            )
        )

    def _on_node_retry(self, event: dict[str, Any]) -> str:
        data = _data(event)
        return self.switch_to("nodes") + str(
            self.macros.node_finished(_title(data), data.get("node_type") or "", "retry", None, data.get("error") or "")
        )

    # Iterations and loops show as the node that runs them: a row when they start, one when they end.
    _on_iteration_started = _on_node_started
    _on_loop_started = _on_node_started

    def _on_iteration_completed(self, event: dict[str, Any]) -> str:
        data = _data(event)
        status = "failed" if data.get("error") else "succeeded"
        return self.switch_to("nodes") + str(
            self.macros.node_finished(
                _title(data),
                data.get("node_type") or "",
                status,
                _number(data.get("elapsed_time")),
                data.get("error") or "",
            )
        )

    _on_loop_completed = _on_iteration_completed

    def _on_text_replace(self, event: dict[str, Any]) -> str:
        # Dify replaces the text streamed so far (moderation, for one); without script the page shows the new one.
        return self.switch_to(None) + str(self.macros.replaced(render_markdown(str(_data(event).get("text") or ""))))

    # -- pauses for a person --------------------------------------------------------------------------------

    def _on_human_input_required(self, event: dict[str, Any]) -> str:
        title = _data(event).get("form_title") or _data(event).get("title") or _data(event).get("node_title")
        text = "The app waits for a person to fill in a form in Dify" + (f" ({title})." if title else ".")
        return self.switch_to(None) + str(self.macros.notice("Input needed", text))

    def _on_human_input_form_filled(self, event: dict[str, Any]) -> str:
        return self.switch_to(None) + str(self.macros.notice("Input given", "The form was filled in."))

    def _on_human_input_form_timeout(self, event: dict[str, Any]) -> str:
        return self.switch_to(None) + str(self.macros.notice("Input timed out", "Nobody filled in the form in time."))

    def _on_workflow_paused(self, event: dict[str, Any]) -> str:
        self.paused = True
        text = "The run is paused until a person answers in Dify; it goes on there, not on this page."
        return self.switch_to(None) + str(self.macros.notice("Paused", text))

    # -- errors ------------------------------------------------------------------------------------------

    def _on_error(self, event: dict[str, Any]) -> str:
        self.failed = True
        return self.switch_to(None) + str(self.macros.error(str(event.get("message") or "Unknown error")))


def _data(event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("data")
    return data if isinstance(data, dict) else {}


def _title(data: dict[str, Any]) -> str:
    return str(data.get("title") or data.get("node_id") or "node")


def _number(value: Any) -> float | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        return None
    return number if math.isfinite(number) else None


def _css_word(value: Any) -> str:
    """A status such as ``succeeded`` doubles as a CSS class: keep it to plain word characters."""
    return "".join(ch for ch in str(value) if ch.isalnum() or ch in "-_") or "unknown"


def _readable(value: Any) -> str:
    if value in (None, "", {}, []):
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2)


def _output_value(value: Any) -> tuple[str, bool]:
    """An output as text, and whether it reads best preformatted (structured values)."""
    if isinstance(value, str):
        return value, False
    return json.dumps(value, ensure_ascii=False, indent=2), True


def _safe_url(value: Any) -> str:
    """Only http(s) and same-site links: a ``javascript:`` URL would survive escaping.

    ``//host`` and ``/\\host`` look site-relative but browsers read both as another host.
    """
    if not isinstance(value, str):
        return ""
    try:
        scheme = urlsplit(value).scheme.lower()
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return ""
    if scheme in ("http", "https"):
        return value
    same_site = not scheme and value.startswith("/") and value[1:2] not in ("/", "\\")
    return value if same_site else ""
