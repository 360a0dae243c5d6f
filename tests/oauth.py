"""What OAuth tests share: PKCE pairs, the hidden fields of the authorization page, the parameters of a redirect."""

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urlsplit

REDIRECT_URI = "http://127.0.0.1:48123/callback"


def pkce() -> tuple[str, str]:
    """A code verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def hidden(page: str, name: str) -> str:
    """The value of a hidden field of a page."""
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]+)">', page)
    assert found, f"no hidden {name} field in the page"
    return found.group(1)


def redirected(location: str) -> dict[str, str]:
    """The parameters of a redirect's query, one value each."""
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def authorization_query(client_id: str, challenge: str, resource: str, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "state": "state-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": resource,
        "scope": "mcp",
    } | extra
