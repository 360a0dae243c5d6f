"""Files an app returns, in a real browser: the answer page links each one, and the link opens the file.

The demo apps make a picture when asked for one (the word ``picture``): the agent's map tool sends Dify's
``message_file`` event, the outline workflow returns a ``cover`` file among its outputs. Both links point at the
local stand-in for Dify's files service, signed as Dify signs them.
"""

from devkit.demo.apps import SUN_PICTURE


def submit(page) -> None:
    with page.expect_navigation(wait_until="commit"):
        page.locator("button.primary").click(no_wait_after=True)
    page.locator("p.done").wait_for()


def opens_the_picture(page, link) -> None:
    """Clicking the link opens the picture itself in a new tab, served as Dify serves tool files."""
    with page.context.expect_page() as opened:
        link.click()
    tab = opened.value
    tab.wait_for_load_state()
    served = page.request.get(link.get_attribute("href"))
    assert (served.status, served.headers["content-type"], served.body()) == (200, "image/png", SUN_PICTURE)
    assert "/files/tools/" in tab.url and tab.url.split("?", 1)[0].endswith(".png")
    tab.close()


def test_the_agent_s_picture_is_a_link_on_the_answer_page(page, endpoint_url, output_dir):
    page.goto(f"{endpoint_url}/chat/agent")
    page.fill("textarea[name=query]", "Show me a picture of the weather")
    submit(page)
    link = page.locator("section.files a[href*='/files/tools/']")
    assert link.count() == 1 and link.is_visible()
    assert link.inner_text() == "image"
    assert "weather map is above" in page.locator("main").inner_text()
    page.screenshot(path=str(output_dir / "returned-file-agent.png"), full_page=True)
    opens_the_picture(page, link)


def test_the_workflow_s_cover_output_is_a_link_named_after_the_file(page, endpoint_url, output_dir):
    page.goto(f"{endpoint_url}/workflow/outline")
    page.fill("input[name='inputs.topic']", "A picture of tea")
    submit(page)
    link = page.locator(".outputs a[href*='/files/tools/']")
    assert link.count() == 1 and link.is_visible()
    assert link.inner_text() == "cover.png"
    page.screenshot(path=str(output_dir / "returned-file-workflow.png"), full_page=True)
    opens_the_picture(page, link)
