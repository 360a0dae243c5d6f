"""Access rules: api key, app allow-list and CORS."""

import pytest

from relay.core.access import (
    ANONYMOUS,
    AccessSettings,
    Caller,
    check_api_key,
    cors_headers,
    preflight_headers,
)
from relay.core.errors import RelayError
from tests.unit.conftest import make_request

KEYED = AccessSettings.from_settings({"api_key": "s3cret"})


def test_no_key_configured_lets_everyone_in():
    check_api_key(make_request(), AccessSettings.from_settings({}))


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": "Bearer s3cret"}, {"Authorization": "bearer  s3cret"}, {"X-API-Key": "s3cret"}],
)
def test_key_in_a_header_is_accepted(headers):
    check_api_key(make_request(headers=headers), KEYED)


def test_key_in_a_form_field_is_accepted_where_a_surface_takes_it_so():
    request = make_request(method="POST", data={"api_key": "s3cret", "query": "hi"})
    assert check_api_key(request, KEYED, form=True) == Caller.of_key("s3cret")
    with pytest.raises(RelayError) as caught:
        check_api_key(make_request(method="POST", data={"api_key": "s3cret", "query": "hi"}), KEYED)
    assert caught.value.status == 401


def test_a_caller_is_the_fingerprint_of_its_key_and_keyless_endpoints_have_only_anonymous_callers():
    caller = check_api_key(make_request(headers={"X-API-Key": "s3cret"}), KEYED)
    assert caller.known and "s3cret" not in str(caller.fingerprint)
    assert caller != check_api_key(make_request(headers={"X-API-Key": "other"}), AccessSettings(("s3cret", "other")))
    assert check_api_key(make_request(headers={"X-API-Key": "s3cret"}), AccessSettings()) == ANONYMOUS


def test_a_header_key_wins_and_the_form_is_then_never_parsed():
    request = make_request(method="POST", data={"api_key": "s3cret"}, headers={"Authorization": "Bearer wrong"})
    with pytest.raises(RelayError) as caught:
        check_api_key(request, KEYED)
    assert "not valid" in caught.value.message
    assert "relay.form_fields" not in request.environ


@pytest.mark.parametrize(
    "body",
    [
        "&".join(f"f{i}=v" for i in range(10_000)),  # a form of many fields
        "f=" + "%41" * 2_000_000,  # a form whose decoding would cost seconds
        "&api_key=" * 100_000 + "api_key=s3cret",  # keys that are not the first one looked for
    ],
    ids=["many fields", "percent escapes", "repeated names"],
)
def test_an_unauthenticated_form_is_refused_without_being_parsed(body):
    request = make_request(method="POST", data=body, content_type="application/x-www-form-urlencoded")
    with pytest.raises(RelayError) as caught:
        check_api_key(request, KEYED, form=True)
    assert (caught.value.status, caught.value.code) == (401, "unauthorized")
    assert "relay.form_fields" not in request.environ


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("query=hi&api_key=s3cret", "application/x-www-form-urlencoded"),
        ("api_key=s3cret&query=hi", "application/x-www-form-urlencoded"),
        ("api_key=%73%33cret", "application/x-www-form-urlencoded"),
        (
            '--B\r\nContent-Disposition: form-data; name="query"\r\n\r\nhi\r\n'
            '--B\r\nContent-Disposition: form-data; name="api_key"\r\n\r\ns3cret\r\n--B--\r\n',
            "multipart/form-data; boundary=B",
        ),
    ],
    ids=["urlencoded, last", "urlencoded, first", "percent-escaped", "multipart"],
)
def test_the_key_of_a_form_is_found_without_parsing_it(body, content_type):
    request = make_request(method="POST", data=body, content_type=content_type)
    check_api_key(request, KEYED, form=True)
    assert "relay.form_fields" not in request.environ


@pytest.mark.parametrize(
    ("headers", "query", "needle"),
    [
        ({}, None, "needs an api key"),
        ({"Authorization": "Bearer wrong"}, None, "not valid"),
        ({"Authorization": "Basic czNjcmV0"}, None, "needs an api key"),
        ({}, {"api_key": "s3cret"}, "never accepted in the URL"),
    ],
)
def test_missing_wrong_or_url_keys_are_401(headers, query, needle):
    with pytest.raises(RelayError) as caught:
        check_api_key(make_request(headers=headers, query=query), KEYED)
    assert (caught.value.status, caught.value.code) == (401, "unauthorized")
    assert caught.value.headers == {"WWW-Authenticate": "Bearer"}
    assert needle in caught.value.message


@pytest.mark.parametrize("key", ["old-key", "new-key"])
def test_every_listed_key_is_accepted_so_keys_can_rotate(key):
    rules = AccessSettings.from_settings({"api_key": "old-key, new-key"})
    check_api_key(make_request(headers={"X-API-Key": key}), rules)
    with pytest.raises(RelayError):
        check_api_key(make_request(headers={"X-API-Key": "old-key, new-key"}), rules)


def test_cors_echoes_an_allowed_origin_only():
    rules = AccessSettings.from_settings({"cors_allowed_origins": "https://a.example, https://b.example/"})
    assert cors_headers(make_request(headers={"Origin": "https://b.example"}), rules) == {
        "Access-Control-Allow-Origin": "https://b.example",
        "Vary": "Origin",
    }
    # The answer depends on Origin whenever origins are configured: caches are told even when it is refused.
    assert cors_headers(make_request(headers={"Origin": "https://evil.example"}), rules) == {"Vary": "Origin"}
    assert cors_headers(make_request(), rules) == {"Vary": "Origin"}


def test_cors_star_allows_any_origin_and_empty_sends_nothing():
    origin = {"Origin": "https://any.example"}
    star = AccessSettings.from_settings({"cors_allowed_origins": "*"})
    assert cors_headers(make_request(headers=origin), star)["Access-Control-Allow-Origin"] == "https://any.example"
    assert cors_headers(make_request(headers=origin), AccessSettings.from_settings({})) == {}


def test_preflight_from_allowed_origin_gets_methods_headers_and_max_age():
    rules = AccessSettings.from_settings({"cors_allowed_origins": "*", "api_key": "k"})
    request = make_request(
        method="OPTIONS", headers={"Origin": "https://x.example", "Access-Control-Request-Method": "POST"}
    )
    headers = preflight_headers(request, rules, "GET, POST, OPTIONS")
    assert headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"
    assert headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type, X-API-Key"
    assert int(headers["Access-Control-Max-Age"]) > 0
    assert headers["Access-Control-Allow-Origin"] == "https://x.example"


@pytest.mark.parametrize(
    ("asked", "allowed"),
    [
        ("authorization, content-type, x-stainless-os", "authorization, content-type, x-stainless-os"),
        ("mcp-protocol-version,authorization", "mcp-protocol-version,authorization"),
        ("bad header (x)", "Authorization, Content-Type, X-API-Key"),
        ("x-long," * 400, "Authorization, Content-Type, X-API-Key"),
    ],
)
def test_a_preflight_gets_the_headers_it_asks_for_when_they_are_header_names(asked, allowed):
    rules = AccessSettings.from_settings({"cors_allowed_origins": "*"})
    request = make_request(
        method="OPTIONS",
        headers={
            "Origin": "https://x.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": asked,
        },
    )
    assert preflight_headers(request, rules, "GET, POST, OPTIONS")["Access-Control-Allow-Headers"] == allowed


def test_preflight_from_other_origin_gets_no_cors_headers():
    rules = AccessSettings.from_settings({"cors_allowed_origins": "https://a.example"})
    request = make_request(
        method="OPTIONS", headers={"Origin": "https://x.example", "Access-Control-Request-Method": "POST"}
    )
    assert not any(
        name.startswith("Access-Control") for name in preflight_headers(request, rules, "GET, POST, OPTIONS")
    )
