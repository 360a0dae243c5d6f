"""A person in a browser: open the form, submit, and watch the answer grow; markup stays text."""

import itertools
import time

from devkit.demo.apps import CHATBOT_APP_ID, MARKUP_SAMPLE, WORKFLOW_APP_ID


def watch(page, read_state, done_selector: str, timeout: float = 30.0) -> list:
    """Sample the page until ``done_selector`` appears; return each distinct state seen, in order."""
    states: list = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_state()
        if not states or state != states[-1]:
            states.append(state)
        if page.locator(done_selector).count():
            final = read_state()
            if final != states[-1]:
                states.append(final)
            return states
        time.sleep(0.02)
    raise AssertionError(f"the page never reached {done_selector}; states seen: {states[-3:]}")


def answer_text(page) -> str:
    answers = page.locator("section.card .answer")
    # The first .answer block is the question; the answer is the last one.
    return answers.last.inner_text() if answers.count() > 1 else ""


def test_chat_form_streams_an_answer_that_grows_and_stays_escaped(page, endpoint_url, output_dir):
    page.goto(f"{endpoint_url}/chat/{CHATBOT_APP_ID}")
    assert page.locator("form.app-form").count() == 1
    assert "demo chatbot" in page.locator("main").inner_text()
    page.fill("textarea[name=query]", "Show me some markup, please")
    page.locator("button.primary").click(no_wait_after=True)

    states = watch(page, lambda: answer_text(page), "p.done")
    growing = [state for state in states if state]
    assert len(growing) >= 3, growing  # at least two intermediate states before the final one
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(growing))
    final = growing[-1]
    assert MARKUP_SAMPLE in final  # shown as text...
    assert page.locator("main img").count() == 0  # ...not turned into an element
    assert page.dialogs == []  # and nothing ran
    assert page.locator("textarea[name=query]").count() == 1  # the reply form carries the conversation on
    assert page.locator("input[name=conversation_id]").get_attribute("value")
    page.screenshot(path=str(output_dir / "chat-answer.png"), full_page=True)


def test_workflow_page_shows_node_progress_then_outputs(page, endpoint_url, output_dir):
    page.goto(f"{endpoint_url}/workflow/{WORKFLOW_APP_ID}")
    page.fill("input[name='inputs.topic']", "Green tea")
    page.locator("button.primary").click(no_wait_after=True)

    states = watch(page, lambda: page.locator("ol.nodes li").count(), "p.done")
    counts = sorted(set(states))
    assert len([count for count in counts if count > 0]) >= 3, states  # the node list grew step by step
    assert page.locator("ol.nodes li.succeeded").count() >= 2
    assert page.locator(".outputs .status").inner_text().strip().lower() == "succeeded"
    assert "Green tea" in page.locator(".outputs").inner_text()
    assert page.dialogs == []
    page.screenshot(path=str(output_dir / "workflow-run.png"), full_page=True)


def test_api_key_page_leads_to_the_form_without_a_key_in_any_url(browser, output_dir):
    from devkit.demo.apps import DEMO_SETTINGS, DemoApps
    from devkit.serve import create_server
    from tests.browser.conftest import ROOT

    server = create_server(
        ROOT,
        DemoApps(token_delay=0),
        settings={**DEMO_SETTINGS, "api_key": "demo-key"},
        console=lambda line: None,
        plugin_log=lambda line: None,
    )
    server.serve_in_background()
    context = browser.new_context()
    try:
        page = context.new_page()
        seen_urls: list[str] = []
        page.on("request", lambda request: seen_urls.append(request.url))
        response = page.goto(f"{server.endpoint_url}/chat/{CHATBOT_APP_ID}")
        assert response.status == 401
        page.fill("input[name=api_key]", "demo-key")
        page.locator("button.primary").click()
        page.wait_for_selector("textarea[name=query]")
        page.fill("textarea[name=query]", "What can you do?")
        page.locator("button.primary").click()
        page.wait_for_selector("p.done")
        assert page.locator("input[name=api_key]").first.get_attribute("value") == "demo-key"  # carried in the body
        page.screenshot(path=str(output_dir / "api-key-flow.png"), full_page=True)
        # "New conversation" keeps the key too: the app's form again, not the key page.
        with page.expect_navigation() as opened:
            page.locator(".restart").click()
        assert opened.value.status == 200 and opened.value.request.method == "POST"
        assert page.locator("textarea[name=query]").count() == 1 and page.locator("p.done").count() == 0
        assert page.locator("input[name=api_key]").get_attribute("value") == "demo-key"
        assert "demo-key" not in " ".join(seen_urls)
    finally:
        context.close()
        server.close()
