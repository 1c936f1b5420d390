"""The design lives in this repository: every cited ADR and architecture anchor exists.

Code and docs cite decisions as ``docs/adr/NNNN-title.md`` (or ``ADR NNNN``) and the contract as
``docs/architecture.md#<anchor>``. These tests read every text file of the checkout and fail with
the exact ``file:line`` of each citation that points nowhere, and of each reference to the old
design file outside the repository. Anchors follow GitHub's heading slugs; an explicit
``<a id="...">`` in the document counts too (that is how architecture.md keeps short, stable
anchors beside numbered headings).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
ADR_DIR = DOCS / "adr"
ARCHITECTURE = DOCS / "architecture.md"

# Where citations may appear (the whole checkout, minus what is not ours or not text).
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache",
             ".streamflow", ".airflow", "build", "dist"}
TEXT_SUFFIXES = {".py", ".md", ".sql", ".sh", ".ini", ".toml", ".cfg", ".yml", ".yaml", ".txt", ".mako",
                 ".example", ".in", ".html", ".js", ".css", ".jinja", ".j2"}
TEXT_NAMES = {"Dockerfile", "Makefile", ".airflowignore", "run"}
# The benchmark history quotes what the measurements cited at the time; it is not rewritten.
HISTORY = {Path("docs/benchmarks.md")}

# Spelled in pieces so this file does not match its own patterns.
FORBIDDEN = {
    "../" + "shared": "points outside the repository",
    "/work/" + "shared": "points outside the repository",
    "DESIGN" + " §": "cites the old design file; cite docs/architecture.md#… or docs/adr/NNNN-….md",
    "DESIGN" + ".md": "names the old design file; cite docs/architecture.md or an ADR",
}

DOC_ANCHOR = re.compile(r"docs/((?:[\w-]+/)*[\w.-]+\.md)#([\w-]+)")
ADR_PATH = re.compile(r"docs/adr/(\d{4})((?:-[\w.-]*?)?)(\.md)?(?![\w-])")
ADR_NUMBER = re.compile(r"\bADRs?[ -]((?:\d{4})(?:(?:,\s*|\s+and\s+|\s*/\s*)(?:ADR[ -])?\d{4})*)\b")
MD_LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
EXPLICIT_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")

# The anchors the code is told to cite (docs/architecture.md); renaming one breaks citations.
CONTRACT_ANCHORS = {
    "what-it-does", "layout", "layering", "data-path", "configuration", "data-model",
    "schema-additions", "utc", "vocabularies", "reference-data", "dag-factory", "dag-shape",
    "trigger-params", "pull-logs", "smart-append", "forecasts", "errors", "interfaces", "cli",
    "airflow-ui", "web", "tests", "known-traps", "trap-plugin-loader", "trap-dag-file-raises",
    "trap-workers-reparse", "trap-connections-outside-processor", "trap-param-date-time",
    "trap-connection-types", "trap-plugin-auth", "trap-plugin-mounts", "trap-reparse",
    "trap-browser-tests", "trap-standalone-bind", "trap-sqlite-wal", "trap-waterdata",
}


def text_files() -> Iterator[Path]:
    """Every text file of the checkout that can carry a citation, as a path relative to ROOT."""
    for path in sorted(ROOT.rglob("*")):
        rel = path.relative_to(ROOT)
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts):
            continue
        if not path.is_file():
            continue
        if path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES or path.name.startswith(".env"):
            yield rel


def read_lines(rel: Path) -> list[str]:
    return (ROOT / rel).read_text(encoding="utf-8", errors="replace").splitlines()


def github_slug(heading: str) -> str:
    """GitHub's heading id: inline markup dropped, lower case, punctuation removed, spaces → '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images → their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    kept = []
    for char in text.lower():
        category = unicodedata.category(char)
        if char in " -" or category[0] in "LMN" or category == "Pc":
            kept.append(char)
    return "".join(kept).replace(" ", "-")


def anchors_of(path: Path) -> set[str]:
    """Heading slugs (with GitHub's -1, -2 suffixes for repeats) and explicit <a id> anchors."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    in_fence = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        anchors.update(EXPLICIT_ANCHOR.findall(line))
        match = HEADING.match(line)
        if match:
            slug = github_slug(match.group(2))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def adr_files() -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for path in sorted(ADR_DIR.glob("[0-9][0-9][0-9][0-9]-*.md")):
        found.setdefault(path.name[:4], []).append(path)
    return found


def _where(rel: Path, number: int, line: str, note: str) -> str:
    """``file:line: the line  -> what is wrong``."""
    return f"{rel}:{number}: {line.strip()[:160]}  -> {note}"


def _fail(problems: list[str], what: str) -> None:
    if problems:
        pytest.fail(f"{len(problems)} {what}:\n" + "\n".join(problems), pytrace=False)


def test_the_design_documents_exist():
    assert ARCHITECTURE.is_file(), "docs/architecture.md is missing"
    assert (ADR_DIR / "README.md").is_file(), "docs/adr/README.md (the ADR index) is missing"
    duplicates = {n: [p.name for p in ps] for n, ps in adr_files().items() if len(ps) > 1}
    assert not duplicates, f"two ADRs share a number: {duplicates}"


def test_architecture_keeps_its_contract_anchors():
    missing = sorted(CONTRACT_ANCHORS - anchors_of(ARCHITECTURE))
    assert not missing, f"docs/architecture.md lost anchors that code may cite: {missing}"


def test_every_adr_has_status_context_decision_consequences():
    problems = []
    for number, paths in sorted(adr_files().items()):
        for path in paths:
            text = path.read_text(encoding="utf-8")
            lines = text.splitlines()
            if not lines or not re.match(rf"# (ADR[ -]?)?{number}\b", lines[0]):
                problems.append(f"docs/adr/{path.name}:1: the title must start with '# {number} '")
            if not re.search(r"^(\* |- )?\**Status\**:\s*\S|^## Status\s*$", text, re.M):
                problems.append(f"docs/adr/{path.name}: no status ('* Status: …' or a '## Status' section)")
            for section in ("Context", "Decision", "Consequences"):
                if not re.search(rf"^## {section}\s*$", text, re.M):
                    problems.append(f"docs/adr/{path.name}: no '## {section}' section")
    _fail(problems, "ADR(s) out of form")


def test_the_adr_index_lists_every_adr():
    index = (ADR_DIR / "README.md").read_text(encoding="utf-8")
    missing = [p.name for ps in adr_files().values() for p in ps if p.name not in index]
    assert not missing, f"docs/adr/README.md does not list: {missing}"


def test_every_cited_adr_exists():
    adrs = adr_files()
    problems = []
    scanned = 0
    for rel in text_files():
        for number, line in enumerate(read_lines(rel), start=1):
            for match in ADR_PATH.finditer(line):
                scanned += 1
                num, rest, suffix = match.group(1), match.group(2), match.group(3)
                if num not in adrs:
                    problems.append(_where(rel, number, line, f"cites docs/adr/{num}…: no ADR {num}"))
                elif suffix and not (ADR_DIR / f"{num}{rest}.md").is_file():
                    names = ", ".join(p.name for p in adrs[num])
                    note = f"cites docs/adr/{num}{rest}.md: no such file (ADR {num} is {names})"
                    problems.append(_where(rel, number, line, note))
            for match in ADR_NUMBER.finditer(line):
                for num in re.findall(r"\d{4}", match.group(1)):
                    scanned += 1
                    if num not in adrs:
                        problems.append(_where(rel, number, line, f"cites ADR {num}: no docs/adr/{num}-*.md"))
    assert scanned > 0, "no ADR citation found anywhere: the scan is broken"
    _fail(problems, "citation(s) of missing ADRs")


def test_every_cited_doc_anchor_exists():
    cache: dict[Path, set[str]] = {}
    problems = []
    scanned = 0
    for rel in text_files():
        for number, line in enumerate(read_lines(rel), start=1):
            for match in DOC_ANCHOR.finditer(line):
                scanned += 1
                target, anchor = DOCS / match.group(1), match.group(2)
                cited = f"docs/{match.group(1)}#{anchor}"
                if not target.is_file():
                    problems.append(_where(rel, number, line, f"cites {cited}: no such file"))
                    continue
                if target not in cache:
                    cache[target] = anchors_of(target)
                if anchor not in cache[target]:
                    problems.append(_where(rel, number, line, f"cites {cited}: no such heading or anchor"))
    assert scanned > 0, "no docs/…#anchor citation found anywhere: the scan is broken"
    _fail(problems, "citation(s) of missing doc anchors")


def test_relative_links_in_docs_resolve():
    cache: dict[Path, set[str]] = {}
    problems = []
    for rel in text_files():
        if rel.suffix != ".md" or rel.parts[0] != "docs":
            continue
        in_fence = False
        for number, line in enumerate(read_lines(rel), start=1):
            if FENCE.match(line):
                in_fence = not in_fence
            if in_fence:
                continue
            for match in MD_LINK.finditer(line):
                link = match.group(1)
                if re.match(r"^[a-z][a-z0-9+.-]*:", link):  # http:, https:, mailto:
                    continue
                path_part, _, anchor = link.partition("#")
                target = ((ROOT / rel).parent / path_part).resolve() if path_part else (ROOT / rel)
                if not target.exists():
                    problems.append(_where(rel, number, line, f"links {link}: no such file"))
                    continue
                if anchor and target.suffix == ".md":
                    if target not in cache:
                        cache[target] = anchors_of(target)
                    if anchor not in cache[target]:
                        problems.append(_where(rel, number, line, f"links {link}: no such heading or anchor"))
    _fail(problems, "broken relative link(s) in docs/")


def test_nothing_points_at_the_old_design_file():
    problems = []
    for rel in text_files():
        if rel in HISTORY or rel == Path(__file__).resolve().relative_to(ROOT):
            continue
        for number, line in enumerate(read_lines(rel), start=1):
            for needle, why in FORBIDDEN.items():
                if needle in line:
                    problems.append(_where(rel, number, line, f"'{needle}' {why}"))
    _fail(problems, "reference(s) to the design outside this repository")


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("7. Smart append", "7-smart-append"),
        ("11.5 `Param(format=\"date-time\")` needs rfc3339-validator",
         "115-paramformatdate-time-needs-rfc3339-validator"),
        ("6.3 `data_pull_logs`", "63-data_pull_logs"),
        ("Summary against the targets of issue 6 (runs of 2026-11-22; §1, §3, §4 re-measured)",
         "summary-against-the-targets-of-issue-6-runs-of-2026-11-22-1-3-4-re-measured"),
        ("See [the ADRs](adr/README.md) — Über", "see-the-adrs--über"),
    ],
)
def test_github_slug(heading, slug):
    assert github_slug(heading) == slug
