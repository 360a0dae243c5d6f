"""What the relay declares beyond any endpoint plugin: one path per app type on GET, POST and OPTIONS, and the
settings its contract (README, "Settings") names. Other endpoints and settings may come next to them.

``make scaffold MINIMAL=1`` removes this file with the relay.
"""

from tests import declarations

LANGUAGES = {"en_US", "zh_Hans", "ja_JP", "pt_BR"}
KINDS = {"chat": "ChatEndpoint", "workflow": "WorkflowEndpoint", "completion": "CompletionEndpoint"}
CONTRACT_SETTINGS = ("api_key", "allowed_apps", "cors_allowed_origins")


def settings() -> dict[str, dict]:
    return {setting["name"]: setting for setting in declarations.settings()}


def test_each_app_type_has_its_path_on_get_post_and_options_served_by_its_own_class():
    for kind, cls in KINDS.items():
        routes = [route for route in declarations.routes() if route.path == f"/{kind}/<app_id>"]
        assert {route.method for route in routes} >= {"GET", "POST", "OPTIONS"}, kind
        assert {route.source for route in routes} == {f"endpoints/{kind}.py"}
        assert declarations.endpoint_classes(f"endpoints/{kind}.py") == [cls]


def test_the_contract_settings_closed_until_configured_and_keys_that_rotate():
    declared = settings()
    # Closed until configured: Dify's form insists on allowed_apps, and its help says what * means.
    assert declared["allowed_apps"]["type"] == "text-input" and declared["allowed_apps"]["required"] is True
    help_text = declared["allowed_apps"]["help"]["en_US"]
    assert "* serves every app" in help_text and "403" in help_text
    assert declared["api_key"]["type"] == "secret-input" and not declared["api_key"].get("required")
    assert "several keys" in declared["api_key"]["help"]["en_US"].lower()
    assert declared["cors_allowed_origins"]["type"] == "text-input"
    assert not declared["cors_allowed_origins"].get("required")


def test_the_contract_settings_are_translated_into_four_languages():
    declared = settings()
    for name in CONTRACT_SETTINGS:
        for text in ("label", "help", "placeholder"):
            assert set(declared[name][text]) == LANGUAGES, (name, text)
            assert all(value.strip() for value in declared[name][text].values()), (name, text)
