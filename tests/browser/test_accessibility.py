"""axe-core on every kind of page, light and dark: no violation of the rules axe runs by default, which are WCAG 2.0
and 2.1 at levels A and AA and axe's best practices (not the AAA rules, nor WCAG 2.2's target-size, which axe leaves
off by default, nor the experimental ones).

axe-core's ``axe.min.js`` comes bundled in the pinned ``axe-playwright-python`` (see conftest.py's ``axe_script``)
and is evaluated through Playwright, as a test's own script: nothing is fetched, and the pages' Content-Security-Policy
(no script at all) stays as served. Each page is opened once and brought to its final state (an answer or a run
streamed to its end, every ``<details>`` opened so that what it folds is checked too); axe then checks the whole
document in the light scheme and again in the dark one (Playwright's ``color_scheme`` emulation, which
``prefers-color-scheme`` follows). The two schemes of a page are two tests that share that one page.
"""

import json
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devkit.demo.apps import DEMO_SETTINGS, DemoApps
from devkit.serve import create_server
from tests.browser.conftest import ROOT

API_KEY = "a11y-key"
REDIRECT = "https://claude.ai/api/mcp/auth_callback"
SCHEMES = ("light", "dark")
AXE_OPTIONS = {"resultTypes": ["violations"]}
"""axe's default rules, and only the violations in its answer (the passes would only make each run slower)."""


def _serve(settings: dict[str, str]) -> Iterator[str]:
    server = create_server(
        ROOT, DemoApps(token_delay=0), settings=settings, console=lambda _: None, plugin_log=lambda _: None
    )
    # The address people use, port included (Dify's nginx leaves the port out): OAuth's addresses start with it.
    server.settings = {**settings, "public_url": server.endpoint_url}
    server.serve_in_background()
    try:
        yield server.endpoint_url
    finally:
        server.close()


@pytest.fixture(scope="module")
def endpoint_url() -> Iterator[str]:
    """The demo apps with no delay between words: a page reaches its final state at once."""
    yield from _serve(DEMO_SETTINGS)


@pytest.fixture(scope="module")
def keyed_url() -> Iterator[str]:
    """The same apps behind an api key, for the pages that ask for one."""
    yield from _serve({**DEMO_SETTINGS, "api_key": API_KEY})


def submit(page: Any, text: str, field: str = "textarea[name=query]", end: str = "p.done") -> None:
    """Type ``text`` into ``field`` and send the form; the next page is there once ``end`` is."""
    page.fill(field, text)
    with page.expect_navigation(wait_until="commit"):  # the page after a turn streams its answer in
        page.locator("button.primary").first.click(no_wait_after=True)
    page.locator(end).wait_for()
    page.wait_for_load_state()  # and the stream has closed the document


# Each opens one page and brings it to the state to check: (page, endpoint url, the keyed endpoint's url).


def form_of_a_chat_app(page: Any, url: str, _keyed: str) -> None:
    page.goto(f"{url}/chat/chatbot")  # suggested questions, a required message


def answer_after_a_chat_turn(page: Any, url: str, _keyed: str) -> None:
    page.goto(f"{url}/chat/chatbot")
    submit(page, "markdown please")  # bold, code, a list, a code block, a table, links
    submit(page, "and a second turn")  # the first turn is now the transcript above


def answer_of_an_agent(page: Any, url: str, _keyed: str) -> None:
    page.goto(f"{url}/chat/agent")
    submit(page, "What is the weather in Paris? A picture please")  # thoughts, tool calls, a file link


def workflow_run(page: Any, url: str, _keyed: str) -> None:
    page.goto(f"{url}/workflow/outline")
    # Node rows, the Result, and Run again: the workflow's form with every kind of input (text, paragraph, select,
    # number, checkbox, files), prefilled.
    submit(page, "Green tea", "input[name='inputs.topic']")


def failed_workflow_run(page: Any, url: str, _keyed: str) -> None:
    page.goto(f"{url}/workflow/outline")
    submit(page, "Green tea fail", "input[name='inputs.topic']")


def failed_chat_answer(page: Any, url: str, _keyed: str) -> None:
    page.goto(f"{url}/chat/chatbot")
    submit(page, "please fail", end="section.error")


def error_page_of_an_unknown_app(page: Any, url: str, _keyed: str) -> None:
    page.goto(f"{url}/chat/no-such-app")


def error_page_of_a_wrong_key(page: Any, _url: str, keyed: str) -> None:
    page.goto(f"{keyed}/chat/chatbot")  # the page asking for the key, then the same page saying it was wrong
    page.fill("input[name=api_key]", "not-the-key")
    with page.expect_navigation():
        page.locator("button.primary").click()
    assert "not valid" in page.locator("main").inner_text()


def oauth_authorization_page(page: Any, _url: str, keyed: str) -> None:
    """What a person sees when Claude or ChatGPT connects: the application, where it returns, the key field."""
    client = json.loads(
        urllib.request.urlopen(
            urllib.request.Request(
                f"{keyed}/oauth/register",
                data=json.dumps({"redirect_uris": [REDIRECT], "client_name": "Claude"}).encode(),
                headers={"Content-Type": "application/json"},
            ),
            timeout=30,
        ).read()
    )
    query = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": REDIRECT,
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
        "state": "a11y",
        "resource": f"{keyed}/mcp",
    }
    page.goto(f"{keyed}/oauth/authorize?{urllib.parse.urlencode(query)}")
    page.locator("input[name=api_key]").wait_for()


def oauth_consent_page(page: Any, url: str, keyed: str) -> None:
    """After the right key: the apps the application will reach, Allow and Deny."""
    oauth_authorization_page(page, url, keyed)
    page.fill("input[name=api_key]", API_KEY)
    with page.expect_navigation():
        page.locator("button.primary").click()
    page.locator("button[value=allow]").wait_for()


PAGES: list[Callable[[Any, str, str], None]] = [
    form_of_a_chat_app,
    answer_after_a_chat_turn,
    answer_of_an_agent,
    workflow_run,
    failed_workflow_run,
    failed_chat_answer,
    error_page_of_an_unknown_app,
    error_page_of_a_wrong_key,
    oauth_authorization_page,
    oauth_consent_page,
]

Violations = list[dict[str, Any]]


@pytest.fixture(scope="module")
def audit(browser, axe_script, endpoint_url, keyed_url) -> Iterator[Callable[..., dict[str, Violations]]]:
    """axe's violations on one page, by scheme. One page serves both schemes: it is opened (and its answer streamed)
    once, and the second scheme's test finds the result ready. The pages keep nothing in the browser (no cookie,
    no storage), so one context serves them all, each in a page of its own."""
    context = browser.new_context(viewport={"width": 1000, "height": 900}, color_scheme=SCHEMES[0])
    results: dict[str, dict[str, Violations]] = {}

    def audit(open_page: Callable[..., None]) -> dict[str, Violations]:
        name = open_page.__name__
        if name not in results:
            page = context.new_page()
            try:
                open_page(page, endpoint_url, keyed_url)
                page.locator("details").evaluate_all("all => all.forEach(details => { details.open = true; })")
                page.evaluate(axe_script)
                by_scheme = {}
                for scheme in SCHEMES:
                    page.emulate_media(color_scheme=scheme)
                    found = page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)
                    by_scheme[scheme] = found["violations"]
                results[name] = by_scheme
            finally:
                page.close()
        return results[name]

    yield audit
    context.close()


def report(violations: Violations) -> str:
    """Each violation's rule, impact and summary, then each element it found by its target and what to fix."""
    lines = [f"{len(violations)} axe-core violation(s):"]
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} <{violation['helpUrl']}>")
        for node in violation["nodes"]:
            target = " ".join(str(selector) for selector in node["target"])
            summary = node.get("failureSummary", "").replace("\n", " ").strip()
            lines.append(f"  {target}: {summary}")
    return "\n".join(lines)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("open_page", PAGES, ids=lambda open_page: open_page.__name__)
def test_no_axe_violation(audit, open_page, scheme):
    violations = audit(open_page)[scheme]
    if violations:
        pytest.fail(report(violations), pytrace=False)
