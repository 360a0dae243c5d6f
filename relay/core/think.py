"""Reasoning that apps stream as ``<think>…</think>`` inside the answer, split from the answer itself.

Reasoning models (DeepSeek-R1, QwQ...) behind a Dify app emit their thinking inline. OpenAI-style clients that
show reasoning read it from ``reasoning_content``; everyone else wants it out of ``content``. Tags may be cut
anywhere between deltas, so a possible start of a tag is held back until the next delta says what it is.

The new lines models put around their tags (``<think>\\n…\\n</think>\\n\\n``) are layout, not text: the reasoning
loses those at its two ends, and the answer those right after ``</think>``, as DeepSeek's own API sends them.
Whitespace at the end of reasoning is therefore held back until more reasoning follows it.
"""

_OPEN, _CLOSE = "<think>", "</think>"


class ThinkSplitter:
    def __init__(self) -> None:
        self.thinking = False
        self.pending = ""
        """The end of the text so far that may be the start of a tag."""
        self.trim = False
        """Whether the text that follows a tag still loses its leading whitespace."""
        self.space = ""
        """Whitespace at the end of the reasoning so far: sent if more reasoning follows, dropped at ``</think>``."""

    def feed(self, delta: str) -> tuple[str, str]:
        """``(content, reasoning)`` that can be sent now for ``delta``."""
        text = self.pending + delta
        self.pending = ""
        content: list[str] = []
        reasoning: list[str] = []
        while text:
            tag = _CLOSE if self.thinking else _OPEN
            at = text.find(tag)
            if at >= 0:
                self._emit(text[:at], content, reasoning, closing=self.thinking)
                text = text[at + len(tag) :]
                self.thinking = not self.thinking
                self.trim = True
                continue
            held = _partial_tag(text, tag)
            self._emit(text[: len(text) - held], content, reasoning)
            self.pending = text[len(text) - held :]
            break
        return "".join(content), "".join(reasoning)

    def flush(self) -> tuple[str, str]:
        """What is left at the end: a held-back fragment that never became a tag is text after all."""
        rest, self.pending = self.pending, ""
        content: list[str] = []
        reasoning: list[str] = []
        self._emit(rest, content, reasoning, closing=True)
        return "".join(content), "".join(reasoning)

    def _emit(self, piece: str, content: list[str], reasoning: list[str], *, closing: bool = False) -> None:
        """Send ``piece`` where it belongs; ``closing``: nothing more of the current part follows it."""
        if self.trim:
            piece = piece.lstrip()
            self.trim = not piece
        if not self.thinking:
            content.append(piece)
            return
        if not piece:
            self.space = "" if closing else self.space
            return
        combined = self.space + piece
        kept = combined.rstrip()
        self.space = "" if closing else combined[len(kept) :]
        reasoning.append(kept)


def _partial_tag(text: str, tag: str) -> int:
    """How many characters at the end of ``text`` could begin ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0
