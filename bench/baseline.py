"""The baselines: a minimal plugin, generated into a scratch directory, that does the least a relay could.

It is this repository's manifest and requirements with one endpoint group and one endpoint, ``/<variant>/<app>``,
calling ``session.app.chat.invoke`` as the relay does:

* ``limit``: reads every event and sends one line at the end: what receiving alone costs in the SDK;
* ``floor``: yields the same pre-encoded bytes for each event: what the SDK's framing of one chunk costs;
* ``seed``: ``json.dumps(event) + "<br>"`` for each event, as Dify's own endpoint example does.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from bench.backend import chat_events

VARIANTS = ("limit", "floor", "seed")

_MAIN = '''"""Entry point of the bench's baseline plugin (``python -m main``)."""

from dify_plugin import DifyPluginEnv, Plugin

plugin = Plugin(DifyPluginEnv(MAX_REQUEST_TIMEOUT=600))

if __name__ == "__main__":
    plugin.run()
'''

_ENDPOINT = '''"""The baselines of the bench: the least any relay of a chat app's stream can do."""

import json
from collections.abc import Mapping

from dify_plugin import Endpoint
from werkzeug import Request, Response

LINE = {line!r}
"""One event's line, encoded once: the floor yields it for every event it receives."""


class BaselineEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        events = self.session.app.chat.invoke(
            app_id=values["app_id"], query=r.args.get("query", ""), inputs={{}}, response_mode="streaming"
        )
        variant = values["variant"]
        if variant == "limit":

            def limit():
                count = 0
                for _ in events:
                    count += 1
                yield f"{{count}} events\\n"

            return Response(limit(), status=200, content_type="text/plain")
        if variant == "floor":

            def floor():
                for _ in events:
                    yield LINE

            return Response(floor(), status=200, content_type="application/x-ndjson")

        def seed():
            for event in events:
                yield json.dumps(event) + "<br>"

        return Response(seed(), status=200, content_type="text/html")
'''

_ENDPOINT_YAML = """path: "/<variant>/<app_id>"
method: "GET"
extra:
  python:
    source: "endpoints/baseline.py"
"""


def write_baseline_plugin(root: Path, target: Path) -> Path:
    """Generate the baseline plugin into ``target`` (created), from the plugin at ``root``; return ``target``."""
    target.mkdir(parents=True)
    manifest = yaml.safe_load((root / "manifest.yaml").read_text(encoding="utf-8"))
    manifest["name"] = f"{manifest['name']}_bench_baseline"
    manifest["label"] = {"en_US": "Bench baseline"}
    manifest["description"] = {"en_US": "The least a relay of an app's stream can do, for make bench."}
    manifest["plugins"] = {"endpoints": ["group/baseline.yaml"]}
    manifest.pop("privacy", None)
    (target / "manifest.yaml").write_text(yaml.safe_dump(manifest, allow_unicode=True), encoding="utf-8")
    shutil.copy(root / "requirements.txt", target / "requirements.txt")
    if (root / "_assets").is_dir():
        shutil.copytree(root / "_assets", target / "_assets")
    (target / "group").mkdir()
    group = {"settings": [], "endpoints": ["endpoints/baseline.yaml"]}
    (target / "group" / "baseline.yaml").write_text(yaml.safe_dump(group), encoding="utf-8")
    (target / "endpoints").mkdir()
    (target / "endpoints" / "baseline.yaml").write_text(_ENDPOINT_YAML, encoding="utf-8")
    line = json.dumps(chat_events(1)[0], ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    (target / "endpoints" / "baseline.py").write_text(_ENDPOINT.format(line=line), encoding="utf-8")
    (target / "main.py").write_text(_MAIN, encoding="utf-8")
    return target
