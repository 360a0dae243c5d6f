"""allowed_apps: which apps an endpoint serves, by id, name and type."""

import re

import pytest

from relay.core.apps import CHAT, COMPLETION, KINDS, WORKFLOW
from relay.core.catalog import APP_NAME, App, Catalog
from relay.core.errors import RelayError
from relay.native.handler import _advised
from relay.native.request import Format
from tests import declarations

SUPPORT = "0e2b7d38-91c4-4f0a-8c57-3a6d1e9b2f44"
TRANSLATE = "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
PLAIN = "6f1c2a9e-3b7d-4c1e-9a2f-0d4b5c6e7f80"


def refusal(call) -> RelayError:
    with pytest.raises(RelayError) as caught:
        call()
    return caught.value


def test_entries_by_id_name_and_type_in_any_separator():
    catalog = Catalog.from_setting(f" {PLAIN.upper()},support={SUPPORT}\n workflow:translate={TRANSLATE} ")
    assert catalog.apps == (App(PLAIN), App(SUPPORT, "support"), App(TRANSLATE, "translate", WORKFLOW))
    assert [app.name for app in catalog.named()] == ["support", "translate"]
    assert not catalog.every_app


def test_a_name_works_wherever_an_id_does():
    catalog = Catalog.from_setting(f"support={SUPPORT}, workflow:translate={TRANSLATE}")
    assert catalog.resolve("support", CHAT) == App(SUPPORT, "support")
    assert catalog.resolve(SUPPORT.upper(), COMPLETION).app_id == SUPPORT  # untyped: any path
    assert catalog.resolve("translate", WORKFLOW).label == "translate"


def test_a_typed_app_through_another_path_is_refused_naming_its_type_as_data():
    catalog = Catalog.from_setting(f"workflow:translate={TRANSLATE}")
    error = refusal(lambda: catalog.resolve("translate", CHAT))
    assert (error.status, error.code) == (400, "invalid_request")
    assert (error.reason, error.app, error.app_kind) == ("wrong_app_type", "translate", "workflow")
    assert "workflow app" in error.message and "/" not in error.message  # the core speaks of no surface's paths
    advised, _ = _advised(error, CHAT, Format.NDJSON)
    assert "/workflow/translate" in advised.message


@pytest.mark.parametrize(
    ("entry", "opened_as", "right_path"),
    [
        (f"workflow:translate={TRANSLATE}", CHAT, "workflow"),
        (f"chat:support={SUPPORT}", COMPLETION, "chat"),
        (f"completion:blurb={PLAIN}", WORKFLOW, "completion"),
    ],
)
def test_a_page_for_a_typed_app_through_another_path_links_to_the_right_path(entry, opened_as, right_path):
    catalog = Catalog.from_setting(entry)
    name = entry.split(":")[1].split("=")[0]
    _, link = _advised(refusal(lambda: catalog.resolve(name, opened_as)), opened_as, Format.HTML)
    assert link is not None
    # Relative to /<opened_as>/<name>, the page that was opened: the same endpoint, whatever its base URL.
    assert link.href == f"../{right_path}/{name}"
    assert right_path in link.text and link.label == "open it at its own path"


def test_unknown_names_are_404_and_unlisted_ids_403():
    catalog = Catalog.from_setting(f"support={SUPPORT}")
    assert refusal(lambda: catalog.resolve("sales", CHAT)).code == "app_not_found"
    assert refusal(lambda: catalog.resolve(PLAIN, CHAT)).code == "app_not_allowed"
    assert refusal(lambda: catalog.resolve(SUPPORT + "\n", CHAT)).code == "app_not_found"


def test_star_serves_every_app_by_id_and_keeps_the_names():
    catalog = Catalog.from_setting(f"*, support={SUPPORT}")
    assert catalog.resolve(PLAIN, CHAT) == App(PLAIN)
    assert catalog.resolve("support", CHAT).app_id == SUPPORT
    assert refusal(lambda: catalog.resolve("nobody", CHAT)).status == 404


@pytest.mark.parametrize("empty", [None, "", "  ,\n"])
def test_an_empty_list_serves_nothing(empty):
    catalog = Catalog.from_setting(empty)
    assert not catalog.configured
    error = refusal(lambda: catalog.resolve(PLAIN, CHAT))
    assert (error.status, error.code) == (403, "endpoint_not_configured")


@pytest.mark.parametrize(
    ("setting", "needle"),
    [
        ("not-an-id", "'not-an-id' is not"),
        (f"Support={SUPPORT}", "lowercase"),
        (f"-x={SUPPORT}", "starting with"),
        (f"{'a' * 65}={SUPPORT}", "1 to 64"),
        (f"agent:x={SUPPORT}", "chat, workflow, completion"),
        ("x=123", "'123' is not an app id"),
        (f"x={SUPPORT} x={PLAIN}", "names 'x' twice"),
        (f"chat:{SUPPORT}", "is not <app id>"),
        (f"{SUPPORT}={PLAIN}", f"the name '{SUPPORT}' is an app id"),
        (f"workflow:{SUPPORT}={PLAIN}", f"the name '{SUPPORT}' is an app id"),
    ],
)
def test_a_malformed_list_is_reported_with_the_offending_entry(setting, needle):
    error = refusal(lambda: Catalog.from_setting(setting))
    assert (error.status, error.code) == (500, "endpoint_misconfigured")
    assert needle in error.message


def test_a_name_shaped_like_an_app_id_is_refused_because_the_id_would_shadow_it():
    # Ids are looked up before names: /chat/<SUPPORT> would reach SUPPORT (or be refused), never PLAIN.
    error = refusal(lambda: Catalog.from_setting(f"*, {SUPPORT}={PLAIN}"))
    assert (error.status, error.code) == (500, "endpoint_misconfigured")
    assert f"{SUPPORT}={PLAIN}" in error.message  # the entry to fix is named


ALLOWED_APPS_HELP = next(s for s in declarations.settings() if s["name"] == "allowed_apps")["help"]


@pytest.mark.parametrize("language", sorted(ALLOWED_APPS_HELP))
def test_the_settings_help_gives_the_name_rule_and_a_path_for_every_type(language):
    """What the form in Dify tells the admin matches what this module enforces, in each language."""
    text = ALLOWED_APPS_HELP[language]
    assert "64" in text and "-" in text and "_" in text  # the name rule: 1 to 64 of [a-z0-9_-]
    for kind in KINDS:  # a name answers under its own type's path, not only /chat/
        assert f"/{kind}/" in text
    assert "/chat/name" not in text and "/chat/名" not in text and "/chat/nome" not in text
    assert "403" in text and "401" in text  # closed until configured; the key is checked first
    examples = re.findall(r"/(?:chat|workflow|completion)/(\w*)", text)
    assert examples and all(APP_NAME.fullmatch(name) for name in examples)  # examples that follow the rule
