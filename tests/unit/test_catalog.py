"""allowed_apps: which apps an endpoint serves, by id, name and type."""

import pytest

from relay.core.apps import CHAT, COMPLETION, WORKFLOW
from relay.core.catalog import App, Catalog
from relay.core.errors import RelayError

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


def test_a_typed_app_through_another_path_names_the_right_path():
    catalog = Catalog.from_setting(f"workflow:translate={TRANSLATE}")
    error = refusal(lambda: catalog.resolve("translate", CHAT))
    assert (error.status, error.code) == (400, "invalid_request")
    assert "/workflow/translate" in error.message


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
    ],
)
def test_a_malformed_list_is_reported_with_the_offending_entry(setting, needle):
    error = refusal(lambda: Catalog.from_setting(setting))
    assert (error.status, error.code) == (500, "endpoint_misconfigured")
    assert needle in error.message
