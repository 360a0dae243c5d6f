"""The GitHub workflows: a tag push tests, packages with ``make package`` and publishes; no Go CLI anywhere."""

from pathlib import Path

import yaml

from .conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def commands(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_release_runs_on_version_tags_with_python_312_tests_packages_and_publishes():
    workflow = load("release.yml")
    assert workflow["on"] == {"push": {"tags": ["v*"]}}
    assert workflow["permissions"] == {"contents": "write"}
    [job] = workflow["jobs"].values()
    assert job["container"].startswith("python:3.12")
    script = commands(job)
    assert script.index("bash .ci/run") < script.index("make package")  # .ci/run ends with `make test`
    publish = next(step for step in job["steps"] if "action-gh-release" in step.get("uses", ""))
    assert publish["with"]["fail_on_unmatched_files"] is True


def test_ci_runs_the_ci_entry_point_on_push_and_pull_request():
    workflow = load("ci.yml")
    assert set(workflow["on"]) == {"push", "pull_request"}
    [job] = workflow["jobs"].values()
    assert "bash .ci/run" in commands(job)


def test_no_workflow_downloads_the_go_cli():
    for path in Path(WORKFLOWS).glob("*.yml"):
        text = path.read_text(encoding="utf-8").lower()
        assert "dify-plugin-daemon/releases" not in text and "go install" not in text and "setup-go" not in text
