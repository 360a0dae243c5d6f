"""What ``relay/platform`` assumes about the ``dify_plugin`` SDK, checked against the installed SDK.

These fail loudly when a new SDK changes under the plugin: then read ``relay/platform/unreadable_requests.py``
again, and drop it if the SDK now answers unreadable requests itself. The SDK is loaded in a subprocess:
importing it applies gevent's monkey patching, which must not reach the other tests.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_PROBE = r"""
import binascii, inspect, json, sys, types
from importlib.metadata import version
from dify_plugin.config.config import DifyPluginEnv
from dify_plugin.core.plugin_executor import PluginExecutor
from dify_plugin.core.plugin_registration import PluginRegistration

def request(raw):
    return types.SimpleNamespace(raw_http_request=binascii.hexlify(raw).decode(), settings={})

def outcome(executor, raw):
    try:
        return {"messages": list(executor.invoke_endpoint(None, request(raw)))}
    except Exception as exc:
        return {"raised": type(exc).__name__}

unreadable = b"GET /chat/x HTTP/1.1\r\nHost: x\r\nX_Under: 1\r\n\r\n"
unrouted = b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
executor = PluginExecutor(DifyPluginEnv(), PluginRegistration(DifyPluginEnv()))
result = {
    "version": version("dify_plugin"),
    "parameters": list(inspect.signature(PluginExecutor.invoke_endpoint).parameters),
    "unpatched": outcome(executor, unreadable),
}
import relay.platform
relay.platform.prepare()
result["patched"] = outcome(executor, unreadable)
result["patched_unrouted"] = outcome(executor, unrouted)
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def probe() -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_sdk_is_the_line_the_patch_was_written_for(probe):
    assert probe["version"].startswith("0.10."), "a new SDK: check relay/platform/unreadable_requests.py again"
    assert probe["parameters"] == ["self", "session", "data"]


def test_the_sdk_alone_still_raises_on_an_unreadable_request(probe):
    # The day this fails, the SDK answers such requests itself and the patch can go.
    assert probe["unpatched"] == {"raised": "ValueError"}


def test_the_patched_sdk_answers_400_with_the_contract_body(probe):
    (message,) = probe["patched"]["messages"]
    assert message["status"] == 400
    body = json.loads(bytes.fromhex(message["result"]))
    assert body["error"]["code"] == "invalid_request"
    assert "'_'" in body["error"]["message"]


def test_the_patch_changes_nothing_for_readable_requests(probe):
    (message,) = probe["patched_unrouted"]["messages"]
    assert message["status"] == 404  # the SDK's own answer for a path no endpoint declares
