"""The html pages through the real plugin process, with the demo apps: markdown, the conversation carried on,
node rows, Run again, languages, plain words."""

import html
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from devkit.daemon.process import PluginProcess
from devkit.demo.apps import DEMO_SETTINGS, DemoApps

ROOT = Path(__file__).resolve().parents[2]
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
FORM = {**BROWSER, "Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def plugin() -> Iterator[PluginProcess]:
    process = PluginProcess(ROOT, DemoApps(token_delay=0))
    process.start()
    yield process
    process.stop()


def post(plugin, path: str, fields: dict, settings: dict | None = None, headers: dict | None = None) -> str:
    response = plugin.request(
        "POST",
        path,
        headers={**FORM, **(headers or {})},
        body=urlencode(fields).encode(),
        settings={**DEMO_SETTINGS, **(settings or {})},
    )
    assert response.status == 200, response.text()
    return response.text()


def hidden(page: str, name: str) -> str:
    found = re.findall(rf'<input type="hidden" name="{name}" value="([^"]*)">', page)
    return html.unescape(found[-1]) if found else ""


def test_a_markdown_answer_is_rendered_and_nothing_hostile_survives(plugin):
    page = post(plugin, "/chat/chatbot", {"query": "markdown please"})
    for rendered in ("<strong>markdown</strong>", "<code>inline code</code>", "<li>first point</li>", "<table>"):
        assert rendered in page
    assert 'href="https://dify.ai"' in page
    assert "<script" not in page and 'href="javascript' not in page and "<img" not in page
    assert '<a href="https://evil.example/p.png" rel="noreferrer noopener nofollow">a pixel</a>' in page


def test_three_turns_of_one_conversation_on_one_page_and_never_the_key(plugin):
    settings = {"api_key": "page-key"}
    fields = {"api_key": "page-key", "query": "first question"}
    for question in ("second question", "third question"):
        page = post(plugin, "/chat/chatbot", fields, settings)
        fields = {
            "api_key": hidden(page, "api_key"),
            "conversation_id": hidden(page, "conversation_id"),
            "transcript": hidden(page, "transcript"),
            "query": question,
        }
        assert "page-key" not in fields["transcript"]
    page = post(plugin, "/chat/chatbot", fields, settings)
    shown = [page.index(question) for question in ("first question", "second question", "third question")]
    assert shown == sorted(shown)
    assert "This is turn 3 of our conversation" in page
    assert 'href="./chatbot">New conversation</a>' in page


def test_a_chatflow_shows_one_row_per_node_and_its_answer_once(plugin):
    page = post(plugin, "/chat/chatflow", {"query": "How do I upgrade?"})
    started = set(re.findall(r"\brun-(\d+)\b", page))
    finished = set(re.findall(r"\bdone-(\d+)\b", page))
    assert started and started == finished  # every running row is hidden by its node's finished row
    assert page.count('<div class="md-final">') == 1  # the answer, once: the run's result adds only its status
    assert 'class="card outputs"' not in page


def test_a_workflow_result_offers_run_again_with_the_inputs_used(plugin):
    page = post(plugin, "/workflow/outline", {"inputs.topic": "Green tea", "inputs.tone": "playful"})
    assert "Inputs used" in page
    run_again = page.split('<details class="run-again"', 1)[1]
    assert 'name="inputs.topic" value="Green tea"' in run_again
    assert "<option selected>playful</option>" in run_again


def test_the_page_speaks_the_readers_language(plugin):
    page = post(plugin, "/chat/chatbot", {"query": "hi"}, headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert '<html lang="zh-Hans">' in page and "发送" in page and "完成。" in page
    japanese = post(plugin, "/workflow/outline", {"inputs.topic": "tea"}, headers={"Accept-Language": "ja"})
    assert "もう一度実行" in japanese
    portuguese = post(plugin, "/chat/chatbot", {"query": "oi"}, headers={"Accept-Language": "pt-BR"})
    assert "Enviar" in portuguese


def test_a_browser_gets_an_html_error_even_for_a_bad_format(plugin):
    response = plugin.request("GET", "/chat/chatbot?query=hi&format=xml", headers=BROWSER, settings=DEMO_SETTINGS)
    assert response.status == 400
    assert response.headers["Content-Type"].startswith("text/html")
    assert "xml" in response.text()


def test_the_key_page_speaks_plain_words(plugin):
    response = plugin.request("GET", "/chat/chatbot", headers=BROWSER, settings={**DEMO_SETTINGS, "api_key": "k"})
    page = response.text()
    assert response.status == 401
    assert "Type the key you were given to continue." in page
    assert "Technical details" in page


def test_the_price_is_shown_only_when_the_endpoint_says_so(plugin):
    hidden_cost = post(plugin, "/chat/chatbot", {"query": "hi"})
    assert "tokens:" in hidden_cost and "price:" not in hidden_cost
    shown_cost = post(plugin, "/chat/chatbot", {"query": "hi"}, settings={"show_usage_cost": True})
    assert "price:" in shown_cost


def test_a_chat_app_under_the_workflow_path_points_to_its_chat_url(plugin):
    settings = {"allowed_apps": "*, chatbot=8c2f0a6e-3b1d-4f7a-9e52-1d6c4b8a7f30"}
    page = plugin.request("POST", "/workflow/chatbot", headers=FORM, body=b"inputs.name=Ann", settings=settings)
    assert page.status == 502
    assert '<a href="../chat/chatbot">' in page.text()
