"""The page body, event by event: which block is open, what each kind of event shows.

Text deltas go into an open block (the answer, a workflow's streamed text) as markdown that renders as it
completes (``relay.native.formats.markdown``); any other event closes that block and shows its own (a tool call, the
node list, a result). A node's row is written when it starts and again when it finishes; the stylesheet hides
the first once the second is there, so each node reads as one row that changes state.

All the markdown rendered for the text the page streams or replaces shares one budget (``MarkupBudget``), four
times the text's bytes: the page stays in proportion to the answer, however the answer is made or cut.

Each thing shows once: a workflow's Result that repeats the text streamed above marks itself so the stylesheet
hides the streamed card, and a chatflow's run adds only its status under the answer, whose usage says the tokens
and the time (or, when no usage comes, the page's end says them).
"""

from typing import Any

from relay.native.formats.html.values import (
    css_word,
    data_of,
    number_of,
    output_html,
    readable,
    safe_url,
    title_of,
)
from relay.native.formats.markdown import GrowingText, MarkdownStream, MarkupBudget, render_within
from relay.native.pages import MAX_TRACKED_NODES
from relay.native.pages.i18n import Translate


class StreamedPage:
    """Turns events into HTML pieces, remembering which block is open and what the page has said so far."""

    def __init__(self, macros: Any, t: Translate, *, chat: bool, show_cost: bool, back_href: str = "") -> None:
        self.macros = macros
        self.back_href = back_href
        """Where an error block links back to: the app's form (relative to the page)."""
        self.t = t
        self.chat = chat
        """A chat page: a chatflow's result repeats its answer, so only its status is shown."""
        self.show_cost = show_cost
        self.open_block: str | None = None
        self.budget = MarkupBudget()
        """What the rendering of the page's streamed and replaced text may still add (``relay.native.limits``)."""
        self.markdown = MarkdownStream(self.budget)
        self.answer = GrowingText()
        """The answer's text as it streamed, for the transcript the reply form carries on."""
        self.conversation_id: str | None = None
        self.failed = False
        """Whether an error was shown: the page then does not say "Done."."""
        self.paused = False
        """Whether the run paused for a person: not done either."""
        self.nodes: dict[str, int] = {}
        """Node run id -> the index that pairs its running row with its finished row."""
        self.text = GrowingText()
        """A workflow's text as the page shows it (streamed, or its replacement), to tell if the Result repeats it."""
        self.run_facts: tuple[float | None, Any] | None = None
        """A chatflow run's seconds and tokens, shown only if no usage with the answer says them."""
        self.usage_shown = False
        """Whether an answer's usage (tokens, time) is on the page already."""

    def add(self, event: Any) -> str:
        if not isinstance(event, dict):
            return ""  # nothing a page can show
        if isinstance(event.get("conversation_id"), str) and event["conversation_id"]:
            self.conversation_id = event["conversation_id"]
        name = event.get("event")
        if name is None and isinstance(event.get("data"), dict) and "outputs" in event["data"]:
            name = "workflow_finished"  # a blocking workflow result has no event name
        handler = getattr(self, f"_on_{name}", None) if isinstance(name, str) else None
        return handler(event) if handler else ""

    # -- blocks ------------------------------------------------------------------------------------------

    def switch_to(self, block: str | None) -> str:
        if block == self.open_block:
            return ""
        piece = self.close_block()
        self.open_block = block
        if block in ("answer", "text"):
            self.markdown = MarkdownStream(self.budget)
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
        if block == "answer":
            self.answer.write(text)
        else:
            self.text.write(text)
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
                readable(event.get("tool_input")),
                readable(event.get("observation")),
                event.get("thought") or "",
            )
        )

    def _on_message_file(self, event: dict[str, Any]) -> str:
        kind = str(event.get("type") or "file")
        return self.switch_to(None) + str(self.macros.file(safe_url(event.get("url")), kind))

    def _on_message_replace(self, event: dict[str, Any]) -> str:
        replacement = str(event.get("answer") or "")
        self.answer = GrowingText(replacement)
        return self.switch_to(None) + str(self.macros.replaced(render_within(self.budget, replacement)))

    def _on_message_end(self, event: dict[str, Any]) -> str:
        metadata = event.get("metadata") if isinstance(event.get("metadata"), dict) else {}
        usage = metadata.get("usage") if isinstance(metadata, dict) else None
        return self.switch_to(None) + (self._usage(usage) if isinstance(usage, dict) else "")

    def _usage(self, usage: dict[str, Any]) -> str:
        """Tokens and time for everyone; the price only where the endpoint's ``show_usage_cost`` says so."""
        self.usage_shown, self.run_facts = True, None  # a chatflow run's own facts would say the same again
        items: list[tuple[str, Any]] = []
        if usage.get("total_tokens") is not None:
            items.append((self.t("tokens"), usage["total_tokens"]))
        latency = number_of(usage.get("latency"))
        if latency is not None:
            items.append((self.t("elapsed"), f"{latency:.2f} s"))
        if self.show_cost and usage.get("total_price") not in (None, "", "0", "0.0000000"):
            items.append((self.t("price"), f"{usage['total_price']} {usage.get('currency') or ''}".strip()))
        return str(self.macros.usage(items)) if items else ""

    # -- workflow events (workflow apps and chatflows) ---------------------------------------------------

    def _node_index(self, data: dict[str, Any]) -> int | None:
        run = data.get("id") or data.get("node_execution_id") or data.get("node_id")
        if not isinstance(run, str):
            return None
        if run not in self.nodes:
            if len(self.nodes) >= MAX_TRACKED_NODES:
                return None
            self.nodes[run] = len(self.nodes)
        return self.nodes[run]

    def _on_node_started(self, event: dict[str, Any]) -> str:
        data = data_of(event)
        return self.switch_to("nodes") + str(
            self.macros.node_started(title_of(data), data.get("node_type") or "", self._node_index(data))
        )

    def _on_node_finished(self, event: dict[str, Any]) -> str:
        data = data_of(event)
        return self.switch_to("nodes") + str(
            self.macros.node_finished(
                title_of(data),
                data.get("node_type") or "",
                css_word(data.get("status") or "succeeded"),
                number_of(data.get("elapsed_time")),
                data.get("error") or "",
                self._node_index(data),
            )
        )

    def _on_node_retry(self, event: dict[str, Any]) -> str:
        data = data_of(event)
        return self.switch_to("nodes") + str(
            self.macros.node_finished(
                title_of(data), data.get("node_type") or "", "retry", None, data.get("error") or "", None
            )
        )

    # Iterations and loops show as the node that runs them: running, then finished.
    _on_iteration_started = _on_node_started
    _on_loop_started = _on_node_started

    def _on_iteration_completed(self, event: dict[str, Any]) -> str:
        data = data_of(event)
        status = "failed" if data.get("error") else "succeeded"
        return self.switch_to("nodes") + str(
            self.macros.node_finished(
                title_of(data),
                data.get("node_type") or "",
                status,
                number_of(data.get("elapsed_time")),
                data.get("error") or "",
                self._node_index(data),
            )
        )

    _on_loop_completed = _on_iteration_completed

    def _on_text_chunk(self, event: dict[str, Any]) -> str:
        text = data_of(event).get("text")
        return self.write("text", str(text)) if text else ""

    def _on_text_replace(self, event: dict[str, Any]) -> str:
        # Dify replaces the text streamed so far (moderation, for one); without script the page shows the new one.
        text = str(data_of(event).get("text") or "")
        self.text = GrowingText(text)
        return self.switch_to(None) + str(self.macros.replaced(render_within(self.budget, text), text_card=True))

    def _on_workflow_finished(self, event: dict[str, Any]) -> str:
        data = data_of(event)
        status = css_word(data.get("status") or "succeeded")
        seconds, tokens = number_of(data.get("elapsed_time")), data.get("total_tokens")
        if self.chat and self.answer.length:
            # A chatflow's result is the answer the page already shows: say only how the run went.
            self.run_facts = None if self.usage_shown else (seconds, tokens)
            return self.switch_to(None) + str(self.macros.run_status(status))
        outputs = data.get("outputs") if isinstance(data.get("outputs"), dict) else {}
        items = [(name, output_html(value)) for name, value in outputs.items()]
        shown = self.text.value().strip()
        repeats = bool(shown) and any(isinstance(value, str) and value.strip() == shown for value in outputs.values())
        return self.switch_to(None) + str(
            self.macros.outputs(status, items, data.get("error") or "", seconds, tokens, repeats_text=repeats)
        )

    def pending_run_facts(self) -> str:
        """A chatflow run's tokens and time when no usage said them (a failed run sends none)."""
        facts, self.run_facts = self.run_facts, None
        return str(self.macros.run_facts(*facts)) if facts else ""

    # -- pauses for a person ---------------------------------------------------------------------------------

    def _on_human_input_required(self, event: dict[str, Any]) -> str:
        data = data_of(event)
        title = data.get("form_title") or data.get("title") or data.get("node_title")
        text = self.t("The app waits for a person to fill in a form in Dify.")
        return self.switch_to(None) + str(self.macros.notice(self.t("Input needed"), f"{text} {title or ''}".strip()))

    def _on_human_input_form_filled(self, event: dict[str, Any]) -> str:
        return self.switch_to(None) + str(self.macros.notice(self.t("Input given"), self.t("The form was filled in.")))

    def _on_human_input_form_timeout(self, event: dict[str, Any]) -> str:
        text = self.t("Nobody filled in the form in time.")
        return self.switch_to(None) + str(self.macros.notice(self.t("Input timed out"), text))

    def _on_workflow_paused(self, event: dict[str, Any]) -> str:
        self.paused = True
        text = self.t("The run is paused until a person answers in Dify; it goes on there, not on this page.")
        return self.switch_to(None) + str(self.macros.notice(self.t("Paused"), text))

    # -- errors ------------------------------------------------------------------------------------------

    def _on_error(self, event: dict[str, Any]) -> str:
        self.failed = True
        message = str(event.get("message") or "Unknown error")
        return self.switch_to(None) + str(self.macros.error(message, self.back_href))
