"""The pages people want, in a real browser: markdown rendering while the answer streams, a whole conversation on
one page, node rows that change state, Run again, another language, and hostile markdown that runs nothing.

Screenshots of each page at 1280 and 390 px, light and dark, go to test-output/browser/; at 390 px the page must
fit the screen. ``APP_RELAY_UPDATE_SCREENSHOTS=1`` also refreshes the README's two (see conftest.py).
"""

import json
import time

import pytest

from devkit.demo.apps import DEMO_SETTINGS, DemoApps
from devkit.serve import create_server
from tests.browser.conftest import ROOT, save_readme_screenshot

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


def fits_the_screen(page) -> None:
    """Nothing sticks out sideways: a phone user never has to scroll the page horizontally."""
    widths = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide on a {widths[1]} px screen"


STREAMING_STATE = """() => {
  const shown = selector => [...document.querySelectorAll(selector)].filter(e => e.offsetParent !== null).length;
  return {final: document.querySelector('.md-final') !== null, strong: shown('.md-block strong'),
          code: shown('.md-block code'), li: shown('.md-block li')};
}"""


def test_markdown_renders_while_the_answer_streams_and_nothing_hostile_runs(open_page, endpoint_url, output_dir):
    page = open_page()
    page.goto(f"{endpoint_url}/chat/chatbot")
    send(page, "markdown please")
    seen_while_streaming: set[str] = set()
    deadline = time.monotonic() + 30
    while not page.locator("p.done").count() and time.monotonic() < deadline:
        state = page.evaluate(STREAMING_STATE)  # one reading of the page, so "before the end" is exact
        if not state["final"]:
            # Finished blocks are rendered; the rest still streams.
            seen_while_streaming |= {name for name in ("strong", "code", "li") if state[name]}
        time.sleep(0.01)
    assert seen_while_streaming == {"strong", "code", "li"}
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
            fits_the_screen(shot)  # the table and the code block scroll inside the answer
            shoot(shot, output_dir, f"chat-markdown-{name}-{scheme}")
            if (name, scheme) == ("wide", "light"):
                save_readme_screenshot(shot, "chat-markdown")


def test_three_turns_of_a_conversation_stay_on_one_page(open_page, endpoint_url, output_dir):
    page = open_page()
    page.goto(f"{endpoint_url}/chat/chatbot")
    for question in ("first question", "second question", "third question"):
        send(page, question)
        page.locator("p.done").wait_for()
    text = page.locator("main").inner_text()
    positions = [text.index(question) for question in ("first question", "second question", "third question")]
    assert positions == sorted(positions)
    earlier = page.locator("section.transcript").inner_text()
    assert "first question" in earlier and "second question" in earlier and "third question" not in earlier
    assert "turn 1" in earlier and "turn 2" in earlier and "turn 3" not in earlier
    assert "turn 3" in text
    shoot(page, output_dir, "chat-three-turns")
    page.locator(".restart").click()
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
    shown = page.locator("main").inner_text()
    assert shown.count("tokens:") == 1 and shown.count("elapsed:") == 1
    shoot(page, output_dir, "chatflow-run")


def test_a_workflow_result_can_run_again_with_its_inputs(open_page, endpoint_url, output_dir):
    for name, width in WIDTHS.items():
        for scheme in ("light", "dark"):
            page = open_page(width, scheme)
            page.goto(f"{endpoint_url}/workflow/outline")
            fits_the_screen(page)
            page.fill("input[name='inputs.topic']", "Green tea")
            page.locator("button.primary").click(no_wait_after=True)
            page.locator("p.done").wait_for()
            assert page.locator(".run-again input[name='inputs.topic']").input_value() == "Green tea"
            assert "Green tea" in page.locator(".inputs").inner_text()
            fits_the_screen(page)
            shoot(page, output_dir, f"workflow-run-{name}-{scheme}")
            if (name, scheme) == ("narrow", "dark"):
                one_column(page, ".outputs dl")
                one_column(page, ".inputs dl")
                save_readme_screenshot(page, "workflow-run-phone-dark")
    assert page.locator(".run-again button.primary").is_hidden()  # "Run again" is folded until asked for
    page.locator(".run-again summary").click()
    page.locator(".run-again button.primary").click()
    page.locator("p.done").wait_for()
    assert page.locator(".outputs .status").inner_text().strip().lower() == "succeeded"


def one_column(page, selector: str) -> None:
    """A definition list on a phone: each name above its value, not beside it."""
    boxes = page.locator(f"{selector} > dt, {selector} > dd").evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.left, r.top]; })"
    )
    assert len(boxes) >= 2
    assert len({round(left) for left, _ in boxes}) == 1, boxes  # all start at the same left edge
    tops = [top for _, top in boxes]
    assert tops == sorted(tops) and len(set(tops)) == len(tops)  # one below the other


def test_a_workflow_shows_its_text_once_and_its_result_like_an_answer(open_page, endpoint_url):
    page = open_page()
    page.goto(f"{endpoint_url}/workflow/outline")
    page.fill("input[name='inputs.topic']", "Green tea")
    page.locator("button.primary").click(no_wait_after=True)
    page.locator("p.done").wait_for()
    assert visible(page, ".text-card") == 0 and visible(page, ".outputs") == 1
    assert page.locator("main").inner_text().count("Outline for “Green tea”") == 1
    # Markdown in a Result looks as it does in an answer: its list is indented as an answer's list is.
    styles = page.evaluate(
        """() => {
          const list = document.querySelector('.outputs dd ol');
          const item = document.createElement('section');
          item.className = 'card';
          item.innerHTML = '<div class="answer"><ol><li>x</li></ol></div>';
          document.querySelector('main').append(item);
          const reference = item.querySelector('ol');
          const read = e => getComputedStyle(e).paddingLeft;
          return [list && read(list), read(reference)];
        }"""
    )
    assert styles[0] is not None and styles[0] == styles[1]


def test_a_chinese_reader_gets_a_chinese_page(open_page, endpoint_url, output_dir):
    page = open_page(locale="zh-CN")
    page.goto(f"{endpoint_url}/chat/chatbot")
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert page.title() == "chatbot · 聊天应用" and page.locator("h1").inner_text() == "chatbot"
    send(page, "你好")
    page.locator("p.done").wait_for()
    assert "完成" in page.locator("p.done").inner_text()
    assert page.locator("button.primary").inner_text() == "发送"
    shoot(page, output_dir, "chat-zh")
    workflow = open_page(locale="zh-CN")
    workflow.goto(f"{endpoint_url}/workflow/outline")
    workflow.fill("input[name='inputs.topic']", "绿茶")
    workflow.locator("button.primary").click(no_wait_after=True)
    workflow.locator("p.done").wait_for()
    assert workflow.locator(".outputs .status").inner_text() == "成功"
    rows = workflow.locator("ol.nodes li.succeeded .kind").all_inner_texts()
    assert rows and all(row.endswith("· 成功") for row in rows)
    assert "succeeded" not in workflow.locator("main").inner_text()
    shoot(workflow, output_dir, "workflow-zh")


def test_the_header_and_the_tab_name_the_app(open_page, endpoint_url):
    page = open_page()
    page.goto(f"{endpoint_url}/workflow/outline")
    assert page.locator("h1").inner_text() == "outline" and page.title() == "outline · Workflow app"


def test_an_ndjson_link_opened_in_a_browser_shows_the_stream_as_text(open_page, endpoint_url):
    page = open_page()
    response = page.goto(f"{endpoint_url}/chat/chatbot?query=hello&format=ndjson")  # a download would raise here
    assert response.headers["content-type"].startswith("text/plain")
    lines = [line for line in page.locator("body").inner_text().splitlines() if line.strip()]
    events = [json.loads(line)["event"] for line in lines]
    assert events[0] == "message" and events[-1] == "message_end"


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
    assert "(file)" in page.locator(".inputs").inner_text()
    shoot(page, output_dir, "workflow-file")
