"""The pages people want, in a real browser: markdown rendering while the answer streams, a whole conversation on
one page, node rows that change state, Run again, another language, and hostile markdown that runs nothing.

Screenshots of each page at 1280 and 390 px, light and dark, go to test-output/browser/.
"""

import time

import pytest

from devkit.demo.apps import DEMO_SETTINGS, DemoApps
from devkit.serve import create_server
from tests.browser.conftest import ROOT

WIDTHS = {"wide": 1280, "narrow": 390}


@pytest.fixture(scope="module")
def endpoint_url():
    server = create_server(
        ROOT, DemoApps(token_delay=0.02), settings=DEMO_SETTINGS, console=lambda _: None, plugin_log=lambda _: None
    )
    server.serve_in_background()
    try:
        yield server.endpoint_url
    finally:
        server.close()


@pytest.fixture
def open_page(browser):
    contexts = []

    def open_page(width: int = 1280, scheme: str = "light", locale: str = "en-US"):
        context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme, locale=locale)
        contexts.append(context)
        page = context.new_page()
        page.dialogs = []
        page.requests = []
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("request", lambda request: page.requests.append(request.url))
        return page

    yield open_page
    for context in contexts:
        context.close()


def visible(page, selector: str) -> int:
    return page.locator(selector).evaluate_all("els => els.filter(e => e.offsetParent !== null).length")


def shoot(page, output_dir, name: str) -> None:
    page.screenshot(path=str(output_dir / f"{name}.png"), full_page=True)


def send(page, text: str) -> None:
    page.fill("textarea[name=query]", text)
    with page.expect_navigation(wait_until="commit"):  # the answer page starts streaming from here
        page.locator("button.primary").first.click(no_wait_after=True)


def test_markdown_renders_while_the_answer_streams_and_nothing_hostile_runs(open_page, endpoint_url, output_dir):
    page = open_page()
    page.goto(f"{endpoint_url}/chat/chatbot")
    send(page, "markdown please")
    rendered_while_streaming = False
    deadline = time.monotonic() + 30
    while not page.locator("p.done").count() and time.monotonic() < deadline:
        if visible(page, ".md-block strong") and not page.locator(".md-final").count():
            rendered_while_streaming = True  # a finished block is rendered; the rest still streams
        time.sleep(0.01)
    assert rendered_while_streaming
    assert page.locator("p.done").count() == 1
    assert visible(page, ".md-final strong") == 1 and visible(page, ".md-final code") >= 1
    assert visible(page, ".md-final li") == 2 and visible(page, ".md-stream") == 0
    assert page.dialogs == [] and page.locator("main img, main script").count() == 0
    assert not [url for url in page.requests if "evil.example" in url]
    assert page.locator('a[href^="javascript"]').count() == 0
    for name, width in WIDTHS.items():
        for scheme in ("light", "dark"):
            shot = open_page(width, scheme)
            shot.goto(f"{endpoint_url}/chat/chatbot")
            send(shot, "markdown please")
            shot.locator("p.done").wait_for()
            shoot(shot, output_dir, f"chat-markdown-{name}-{scheme}")


def test_three_turns_of_a_conversation_stay_on_one_page(open_page, endpoint_url, output_dir):
    page = open_page()
    page.goto(f"{endpoint_url}/chat/chatbot")
    for question in ("first question", "second question", "third question"):
        send(page, question)
        page.locator("p.done").wait_for()
    text = page.locator("main").inner_text()
    positions = [text.index(question) for question in ("first question", "second question", "third question")]
    assert positions == sorted(positions)
    assert "turn 3" in text
    page.locator("a.restart").click()
    assert page.locator("form.app-form").count() == 1 and "first question" not in page.locator("main").inner_text()
    shoot(page, output_dir, "chat-new-conversation")


def test_a_chatflow_shows_each_node_once_and_its_answer_once(open_page, endpoint_url, output_dir):
    page = open_page()
    page.goto(f"{endpoint_url}/chat/chatflow")
    send(page, "How do I upgrade?")
    page.locator("p.done").wait_for()
    assert visible(page, "ol.nodes li.running") == 0
    titles = page.locator("ol.nodes li").evaluate_all(
        "els => els.filter(e => e.offsetParent !== null).map(e => e.firstElementChild.textContent)"
    )
    assert titles and len(titles) == len(set(titles))
    assert visible(page, ".md-final") == 1
    shoot(page, output_dir, "chatflow-run")


def test_a_workflow_result_can_run_again_with_its_inputs(open_page, endpoint_url, output_dir):
    for name, width in WIDTHS.items():
        for scheme in ("light", "dark"):
            page = open_page(width, scheme)
            page.goto(f"{endpoint_url}/workflow/outline")
            page.fill("input[name='inputs.topic']", "Green tea")
            page.locator("button.primary").click(no_wait_after=True)
            page.locator("p.done").wait_for()
            assert page.locator(".run-again input[name='inputs.topic']").input_value() == "Green tea"
            assert "Green tea" in page.locator(".inputs").inner_text()
            shoot(page, output_dir, f"workflow-run-{name}-{scheme}")
    page.locator(".run-again button.primary").click()
    page.locator("p.done").wait_for()
    assert page.locator(".outputs .status").inner_text().strip().lower() == "succeeded"


def test_a_chinese_reader_gets_a_chinese_page(open_page, endpoint_url, output_dir):
    page = open_page(locale="zh-CN")
    page.goto(f"{endpoint_url}/chat/chatbot")
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    send(page, "你好")
    page.locator("p.done").wait_for()
    assert "完成" in page.locator("p.done").inner_text()
    assert page.locator("button.primary").inner_text() == "发送"
    shoot(page, output_dir, "chat-zh")


def test_a_file_chosen_in_the_form_reaches_the_app(open_page, endpoint_url, output_dir):
    page = open_page()
    page.goto(f"{endpoint_url}/workflow/outline")
    page.fill("input[name='inputs.topic']", "Green tea")
    page.set_input_files(
        "input[name='inputs.attachment']",
        files=[{"name": "brief.txt", "mimeType": "text/plain", "buffer": b"Chosen in a browser\nsecond line"}],
    )
    with page.expect_navigation(wait_until="commit"):
        page.locator("button.primary").click(no_wait_after=True)
    page.locator("p.done").wait_for()
    text = page.locator(".outputs").inner_text()
    assert "brief.txt" in text and "Chosen in a browser" in text
    shoot(page, output_dir, "workflow-file")
