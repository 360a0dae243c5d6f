"""Reasoning that apps stream as ``<think>…</think>`` inside the answer, split from the answer itself.

Reasoning models (DeepSeek-R1, QwQ...) behind a Dify app emit their thinking inline. OpenAI-style clients that
show reasoning read it from ``reasoning_content``; everyone else wants it out of ``content``. Tags may be cut
anywhere between deltas, so a possible start of a tag is held back until the next delta says what it is.
"""

_OPEN, _CLOSE = "<think>", "</think>"


class ThinkSplitter:
    def __init__(self) -> None:
        self.thinking = False
        self.pending = ""

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
                (reasoning if self.thinking else content).append(text[:at])
                text = text[at + len(tag) :]
                self.thinking = not self.thinking
                continue
            held = _partial_tag(text, tag)
            (reasoning if self.thinking else content).append(text[: len(text) - held])
            self.pending = text[len(text) - held :]
            break
        return "".join(content), "".join(reasoning)

    def flush(self) -> tuple[str, str]:
        """What is left at the end: a held-back fragment that never became a tag is text after all."""
        rest, self.pending = self.pending, ""
        return ("", rest) if self.thinking else (rest, "")


def _partial_tag(text: str, tag: str) -> int:
    """How many characters at the end of ``text`` could begin ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0
