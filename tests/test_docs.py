"""Every code example of the user documentation runs as written.

Each ```python block of README.md and docs/*.md is executed on its own, in a fresh namespace, from an
empty temporary working folder, so files it writes go nowhere and it cannot lean on files of the clone
(the published example scenes it may use ship inside the package as ``tos:run00`` ...). Every ```bash
line that starts with ``tos `` must parse with the real command line parser. New doc pages are picked
up without touching this file.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from theory_of_space.cli import build_parser

REPO_ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = sorted([REPO_ROOT / "README.md", *(REPO_ROOT / "docs").glob("*.md")])
_FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _blocks(language: str) -> list[tuple[str, str]]:
    found = []
    for path in DOC_FILES:
        text = path.read_text(encoding="utf-8")
        for match in _FENCE.finditer(text):
            if match.group(1) == language:
                line = text.count("\n", 0, match.start()) + 1
                found.append((f"{path.relative_to(REPO_ROOT)}:{line}", match.group(2)))
    return found


def _tos_lines() -> list[tuple[str, str]]:
    lines = []
    for where, block in _blocks("bash"):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            command = line.split("#", 1)[0].strip()
            if command.startswith("tos "):
                lines.append((where, command))
    return lines


PYTHON_BLOCKS = _blocks("python")
TOS_LINES = _tos_lines()


def test_the_docs_have_examples_to_check():
    assert len(PYTHON_BLOCKS) >= 5 and len(TOS_LINES) >= 10


@pytest.mark.parametrize(("where", "code"), PYTHON_BLOCKS, ids=[where for where, _ in PYTHON_BLOCKS])
def test_python_block_runs(where, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}
    exec(compile(code, where, "exec"), namespace)


@pytest.mark.parametrize(("where", "command"), TOS_LINES, ids=[f"{w} {c}" for w, c in TOS_LINES])
def test_tos_command_parses(where, command):
    argv = shlex.split(command)[1:]
    if "..." in argv:
        pytest.fail(f"{where}: `{command}` is not a command a user can copy")
    build_parser().parse_args(argv)


def test_every_doc_statement_is_about_this_project():
    # user docs explain themselves: no references into the internal specification
    for path in DOC_FILES:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"spec §|open point \d|spec/\w+\.md", text), path.name


def test_the_readme_install_and_test_commands_are_the_ones_ci_runs():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [block.strip() for _, block in _blocks("bash") if "python -m pytest" in block]
    assert commands, "the README gives no test command"
    test_command = next(c for c in commands if c in readme)
    assert test_command in ci.splitlines()
