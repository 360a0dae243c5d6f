"""``.difyignore`` means what a ``.gitignore`` means: the same patterns, the same precedence, the same pruning."""

from pathlib import Path

from devkit.packaging.ignore import load_ignore_rules, select_files

from .conftest import ROOT


def make_tree(root: Path, paths: list[str]) -> None:
    for path in paths:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path, encoding="utf-8")


def test_directory_patterns_match_at_any_depth_and_anchored_ones_only_at_the_root(tmp_path):
    make_tree(tmp_path, ["tests/a.py", "pkg/tests/b.py", "dist/x", "pkg/dist/y", "keep.py"])
    (tmp_path / ".difyignore").write_text("tests/\n/dist/\n.difyignore\n", encoding="utf-8")
    assert select_files(tmp_path) == ["keep.py", "pkg/dist/y"]


def test_globs_negation_and_comments(tmp_path):
    make_tree(tmp_path, ["a.pem", "keep.pem", "x.pyc", "mod.py", "#notes"])
    rules = "# keys\n*.pem\n!keep.pem\n*.py[cod]\n\\#notes\n.difyignore\n"
    (tmp_path / ".difyignore").write_text(rules, encoding="utf-8")
    assert select_files(tmp_path) == ["keep.pem", "mod.py"]


def test_a_file_inside_an_excluded_directory_cannot_be_re_included(tmp_path):
    # git's rule: it never looks inside an excluded directory, so `!` cannot bring one of its files back.
    make_tree(tmp_path, ["build/keep.txt", "build/other.txt", "main.py"])
    (tmp_path / ".difyignore").write_text("build/\n!build/keep.txt\n.difyignore\n", encoding="utf-8")
    assert select_files(tmp_path) == ["main.py"]


def test_later_lines_win(tmp_path):
    make_tree(tmp_path, ["notes.md", "README.md"])
    (tmp_path / ".difyignore").write_text("*.md\n!README.md\n.difyignore\n", encoding="utf-8")
    assert select_files(tmp_path) == ["README.md"]


def test_gitignore_is_the_fallback_and_without_either_everything_is_packaged(tmp_path):
    make_tree(tmp_path, ["a.log", "main.py"])
    assert select_files(tmp_path) == ["a.log", "main.py"]
    assert load_ignore_rules(tmp_path).source is None

    (tmp_path / ".gitignore").write_text("*.log\n.gitignore\n", encoding="utf-8")
    assert load_ignore_rules(tmp_path).source == ".gitignore"
    assert select_files(tmp_path) == ["main.py"]

    (tmp_path / ".difyignore").write_text(".difyignore\n.gitignore\n", encoding="utf-8")
    assert load_ignore_rules(tmp_path).source == ".difyignore"
    assert select_files(tmp_path) == ["a.log", "main.py"]


def test_paths_are_slash_separated_and_byte_sorted(tmp_path):
    make_tree(tmp_path, ["b/z.py", "B.py", "a/b/c.py", "é.txt", "_assets/i.svg"])
    assert select_files(tmp_path) == ["B.py", "_assets/i.svg", "a/b/c.py", "b/z.py", "é.txt"]


def test_symlinked_directories_are_not_followed(tmp_path):
    make_tree(tmp_path / "outside", ["secret.txt"])
    make_tree(tmp_path / "plugin", ["main.py"])
    (tmp_path / "plugin" / "linked").symlink_to(tmp_path / "outside", target_is_directory=True)
    assert select_files(tmp_path / "plugin") == ["main.py"]


def test_the_repository_difyignore_keeps_development_files_secrets_and_caches_out(tmp_path):
    kept = [
        "manifest.yaml",
        "main.py",
        "requirements.txt",
        "README.md",
        "PRIVACY.md",
        ".env.example",
        "group/app_relay.yaml",
        "endpoints/chat.py",
        "relay/pages/page_start.html",
        "relay/pages/style.css",
        "_assets/icon.svg",
    ]
    dropped = [
        ".gitignore",
        ".python-version",
        "Makefile",
        "pyproject.toml",
        "requirements-test.txt",
        "requirements-tools.txt",
        ".env",
        ".env.local",
        "signing.private.pem",
        "keys/dify.public.pem",
        "tests/test_x.py",
        "tests/devkit/packaging/conftest.py",
        "devkit/package.py",
        ".ci/run",
        ".github/workflows/release.yml",
        ".git/HEAD",
        ".venv/bin/python",
        "venv/lib/x.py",
        "relay/__pycache__/access.cpython-312.pyc",
        "relay/stale.pyc",
        ".pytest_cache/v/cache",
        ".ruff_cache/0.1/x",
        "dist/any_plugin-1.2.3.difypkg",
        "old.difypkg",
        "test-output/trace.zip",
        ".idea/workspace.xml",
        ".DS_Store",
    ]
    make_tree(tmp_path, kept + dropped)
    (tmp_path / ".difyignore").write_bytes((ROOT / ".difyignore").read_bytes())
    assert select_files(tmp_path) == sorted(kept, key=lambda path: path.encode())
