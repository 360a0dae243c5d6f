"""The html pages through the real plugin process, with the demo apps: markdown, the conversation carried on,
node rows, Run again, languages, plain words."""

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from devkit.daemon.process import PluginProcess
from devkit.demo.apps import CHATBOT_APP_ID, DEMO_SETTINGS, DemoApps

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
    earlier = page.split('<section class="transcript"', 1)[1].split('<section class="card question">', 3)
    assert "This is turn 1 of our conversation" in earlier[1] and "This is turn 2 of our conversation" in earlier[2]
    assert (
        "This is turn 3 of our conversation"
        in page.split('<section class="transcript"', 1)[1].split("third question", 1)[1]
    )
    assert "page-key" not in hidden(page, "transcript")


def test_new_conversation_carries_the_typed_key_and_opens_the_form(plugin):
    settings = {"api_key": "page-key"}
    page = post(plugin, "/chat/chatbot", {"api_key": "page-key", "query": "hello"}, settings)
    restart = page.split('<form id="restart"', 1)[1].split("</form>", 1)[0]
    assert 'method="post" action="./chatbot"' in restart
    assert '<button type="submit" form="restart" class="restart">New conversation</button>' in page
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', restart))
    assert fields == {"api_key": "page-key"}  # the key, and nothing of the conversation
    form = post(plugin, "/chat/chatbot", fields, settings)  # what the button sends: the form, not the 401 page
    assert '<textarea name="query" rows="3" required' in form and "first question" not in form
    assert hidden(form, "api_key") == "page-key"
    unkeyed = post(plugin, "/chat/chatbot", {"query": "hello"})
    assert '<a class="restart" href="./chatbot">New conversation</a>' in unkeyed and 'id="restart"' not in unkeyed


HOSTILE_MARKDOWN = (
    "<script>alert(1)</script> <img src=x onerror=alert(1)> [trap](javascript:alert(1)) "
    '![pixel](https://evil.example/p.png) <a href="https://evil.example" onclick="alert(1)">x</a> **still bold**'
)


def test_a_forged_transcript_of_25_hostile_turns_comes_back_as_20_escaped_turns(plugin):
    forged = [[f"question {number} <b>bold?</b>", f"answer {number}: {HOSTILE_MARKDOWN}"] for number in range(25)]
    page = post(plugin, "/chat/chatbot", {"query": "and now?", "transcript": json.dumps(forged)})
    earlier = page.split('<section class="transcript"', 1)[1].split("</section></section>", 1)[0]
    assert earlier.count('<section class="card question">') == 20
    assert "question 4 " not in earlier and "question 5 " in earlier and "question 24 " in earlier
    assert earlier.count("<strong>still bold</strong>") == 20  # markdown rendered, its hostile parts not
    for raw in ("<script", "<img", "<b>", 'href="javascript', 'onclick="', '<a href="https://evil.example"'):
        assert raw not in page, raw
    carried = json.loads(hidden(page, "transcript"))
    assert len(carried) == 20 and carried[-1][0] == "and now?" and carried[0][0].startswith("question 6 ")
    assert carried[0][1] == f"answer 6: {HOSTILE_MARKDOWN}"  # carried on as text, exactly


def test_a_chatflow_shows_one_row_per_node_and_its_answer_once(plugin):
    page = post(plugin, "/chat/chatflow", {"query": "How do I upgrade?"})
    started = set(re.findall(r"\brun-(\d+)\b", page))
    finished = set(re.findall(r"\bdone-(\d+)\b", page))
    assert started and started == finished  # every running row is hidden by its node's finished row
    assert page.count('<div class="md-final">') == 1  # the answer, once: the run's result adds only its status
    assert 'class="card outputs' not in page
    assert page.count("tokens: ") == 1 and page.count("elapsed: ") == 1  # said by the answer's usage only
    assert '<footer class="usage run-status"><span class="status succeeded">succeeded</span></footer>' in page


def test_a_workflow_shows_its_text_once_in_its_result(plugin):
    page = post(plugin, "/workflow/outline", {"inputs.topic": "Green tea"})
    assert '<section class="card text-card">' in page  # while it streams
    assert '<section class="card outputs repeats-text">' in page  # then the Result, which hides the card


def test_a_workflow_result_offers_run_again_with_the_inputs_used(plugin):
    page = post(plugin, "/workflow/outline", {"inputs.topic": "Green tea", "inputs.tone": "playful"})
    assert "Inputs used" in page
    run_again = page.split('<details class="run-again"', 1)[1]
    assert 'name="inputs.topic" value="Green tea"' in run_again
    assert "<option selected>playful</option>" in run_again


def test_the_page_speaks_the_readers_language(plugin):
    page = post(plugin, "/chat/chatbot", {"query": "hi"}, headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert '<html lang="zh-Hans">' in page and "发送" in page and "完成。" in page
    assert "<title>chatbot · 聊天应用</title>" in page
    japanese = post(plugin, "/workflow/outline", {"inputs.topic": "tea"}, headers={"Accept-Language": "ja"})
    assert "もう一度実行" in japanese and "<title>outline · ワークフローアプリ</title>" in japanese
    assert '<span class="status succeeded">成功</span>' in japanese and "start · 成功</span>" in japanese
    chatflow = post(plugin, "/chat/chatflow", {"query": "hi"}, headers={"Accept-Language": "pt-BR"})
    assert '<span class="status succeeded">sucesso</span>' in chatflow and ">succeeded<" not in chatflow
    portuguese = post(plugin, "/chat/chatbot", {"query": "oi"}, headers={"Accept-Language": "pt-BR"})
    assert "Enviar" in portuguese


def test_the_page_names_the_app_or_its_short_id(plugin):
    named = post(plugin, "/chat/chatbot", {"query": "hi"})
    assert "<h1>chatbot</h1>" in named and "<title>chatbot · Chat app</title>" in named
    by_id = post(plugin, f"/chat/{CHATBOT_APP_ID}", {"query": "hi"}, settings={"allowed_apps": "*"})
    short = CHATBOT_APP_ID.split("-")[0]
    assert f"<h1>{short}</h1>" in by_id and f"<title>{short} · Chat app</title>" in by_id
    form = plugin.request("GET", "/workflow/outline", headers=BROWSER, settings=DEMO_SETTINGS).text()
    assert "<h1>outline</h1>" in form and "<title>outline · Workflow app</title>" in form


def test_the_pages_allow_no_images_nor_anything_else_from_anywhere(plugin):
    response = plugin.request("GET", "/chat/chatbot", headers=BROWSER, settings=DEMO_SETTINGS)
    policy = response.headers["Content-Security-Policy"]
    assert "img-src" not in policy and "default-src 'none'" in policy and "form-action 'self'" in policy


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
    assert page.status == 400
    assert '<a href="../chat/chatbot">' in page.text()


def test_an_error_pages_link_carries_the_typed_key_on_without_a_url():
    settings = {"allowed_apps": "chat:chatbot=8c2f0a6e-3b1d-4f7a-9e52-1d6c4b8a7f30", "api_key": "k-42"}
    with PluginProcess(ROOT, DemoApps(token_delay=0)) as plugin:
        # A key typed on the 401 page, then the app opened under the wrong path: the hint to the right one is a
        # small POST form that carries the key along, and the page is not to be stored.
        page = plugin.request(
            "POST", "/workflow/chatbot", headers=FORM, body=b"api_key=k-42&inputs.name=Ann", settings=settings
        )
        text = page.text()
    assert page.status == 400
    assert '<form class="inline" method="post" action="../chat/chatbot"' in text
    assert '<input type="hidden" name="api_key" value="k-42">' in text
    assert "k-42" not in page.header("Location", "") and page.header("Cache-Control") == "no-store"


def test_a_turn_opens_at_the_newest_question_and_run_again_is_folded(plugin):
    page = plugin.request("POST", "/chat/chatbot", headers=FORM, body=b"query=Hello", settings=DEMO_SETTINGS).text()
    assert page.count('id="latest"') == 1 and 'action="#latest"' in page
    assert page.index('id="latest"') < page.index("Hello")
    run = plugin.request("POST", "/workflow/outline", headers=FORM, body=b"inputs.topic=tea", settings=DEMO_SETTINGS)
    assert '<details class="run-again">' in run.text()


def test_a_wrong_key_is_said_plainly_and_a_failed_run_links_back_to_the_form(plugin):
    settings = {**DEMO_SETTINGS, "api_key": "k-right"}
    wrong = plugin.request("POST", "/chat/chatbot", headers=FORM, body=b"api_key=k-wrong", settings=settings)
    assert wrong.status == 401 and "That key is not valid here." in wrong.text()
    none = plugin.request("GET", "/chat/chatbot", headers={"Accept": "text/html"}, settings=settings)
    assert "This page is protected." in none.text() and "not valid" not in none.text().split("<details")[0]
    failed = plugin.request("POST", "/chat/chatbot", headers=FORM, body=b"query=crash", settings=DEMO_SETTINGS)
    text = failed.text()
    assert "The app stopped with an error." in text and '<a href="./chatbot">Back to the app&#39;s form</a>' in text
