"""Run the benchmarks, print the tables and write docs/benchmarks.md.

    make bench                                   # everything
    .venv/bin/python -m bench --only parse       # one part (the others' sections are kept)
    .venv/bin/python bench/run.py --quick        # small sizes, a smoke test (not written to the docs)

Parts: ``writes`` (1), ``parse`` (2), ``e2e`` (3), ``memory`` (4), ``api`` (5), ``verification`` (6),
``cluster`` (7; needs PostgreSQL and redis-server, not in the default set: ``--only cluster``). PostgreSQL parts create fresh
databases next to ``STREAMFLOW_TEST_POSTGRES_URL`` (default postgresql://postgres@127.0.0.1:5432/
postgres) and drop them afterwards; without a reachable server they run on SQLite only.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # `python bench/run.py`: make `bench` and `streamflow` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "plugins"))

from bench import common

PARTS = ("writes", "parse", "e2e", "memory", "api", "verification", "cluster")
DEFAULT_PARTS = ("writes", "parse", "e2e", "memory", "api", "verification")
DOC = common.REPO_ROOT / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Produced by `make bench` (`bench/run.py`); every number below was measured by that command on the
machine described here — re-run it to refresh. Each section is replaced only when its part runs
(`python -m bench --only writes,parse,…`), and says when it was measured.
The machine is shared: other processes were running during the measurements, so treat the
absolute rates as ±20 %; the ratios come from paired measurements in the same run.
"""


def _machine_block(postgres_url: str | None) -> str:
    lines = ["## Machine and versions", "", "| | |", "|---|---|"]
    for key, value in {**common.machine(), **common.versions(postgres_url)}.items():
        lines.append(f"| {key} | {value} |")
    lines.append(f"| date | {common.now_utc()} |")
    return "\n".join(lines) + "\n"


def _replace_block(document: str, key: str, body: str) -> str:
    begin, end = f"<!-- bench:{key} -->", f"<!-- /bench:{key} -->"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(document):
        return pattern.sub(lambda _m: block, document)
    return document.rstrip() + "\n\n" + block + "\n"


def write_doc(sections: dict[str, common.Section], postgres_url: str | None, path: Path = DOC) -> None:
    document = path.read_text(encoding="utf-8") if path.exists() else HEADER
    if not document.startswith("# Benchmarks"):
        document = HEADER
    document = _replace_block(document, "machine", _machine_block(postgres_url))
    order = {key: i for i, key in enumerate(("machine", *PARTS))}
    for key, section in sections.items():
        stamp = f"\n_Measured {common.now_utc()} at commit {common.git_commit()}._\n"
        body = section.markdown()
        first, _, rest = body.partition("\n")
        document = _replace_block(document, key, first + "\n" + stamp + rest)
    # keep the blocks in part order
    blocks = {m.group(2): m.group(1) for m in re.finditer(r"(<!-- bench:(\w+) -->.*?<!-- /bench:\2 -->)", document, re.DOTALL)}
    head = document.split("<!-- bench:", 1)[0].rstrip()
    ordered = sorted(blocks.items(), key=lambda kv: order.get(kv[0], 99))
    document = head + "\n\n" + "\n\n".join(block for _key, block in ordered) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(DEFAULT_PARTS), help=f"comma-separated parts ({', '.join(PARTS)})")
    parser.add_argument("--backends", default="sqlite,postgresql", help="databases for writes/parse")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test, not written to the docs")
    parser.add_argument("--output", type=Path, default=DOC, help="markdown file to update (default docs/benchmarks.md)")
    parser.add_argument("--no-doc", action="store_true", help="print only")
    parser.add_argument("--no-variant", action="store_true", help="skip the per-row FK variant of the write benchmark")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("bench").setLevel(logging.INFO)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s): {', '.join(unknown)}")
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    postgres_url = common.postgres_admin_url()
    if "postgresql" in backends and not common.postgres_available(postgres_url):
        logging.getLogger("bench").warning("PostgreSQL at %s is unreachable: SQLite only", postgres_url)
        backends = [b for b in backends if b != "postgresql"]
        postgres_url = None
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

    workdir = Path(tempfile.mkdtemp(prefix="streamflow-bench-"))
    sections: dict[str, common.Section] = {}
    for part in parts:
        if part == "writes":
            from bench import writes

            if args.quick:
                writes.STATIONS, writes.INSTANTS, writes.ROW_AT_A_TIME = 4, 10_000, 500
            sections[part] = writes.run(workdir, backends, variant=not args.no_variant and "postgresql" in backends)
        elif part == "parse":
            from bench import parse

            sizes = (10, 50) if args.quick else parse.SIZES
            sections[part] = parse.run(workdir, backends, sizes=sizes)
        elif part == "e2e":
            from bench import e2e

            sections[part] = e2e.run(workdir, quick=args.quick)
        elif part == "memory":
            from bench import memory

            sections[part] = memory.run(workdir, quick=args.quick)
        elif part == "api":
            from bench import api_export

            sections[part] = api_export.run(workdir, quick=args.quick)
        elif part == "verification":
            from bench import verification

            sections[part] = verification.run(workdir, backends, quick=args.quick)
        elif part == "cluster":
            from bench import cluster

            sections[part] = cluster.run(workdir, quick=args.quick)
        print("\n" + sections[part].text() + "\n", flush=True)
    if not args.no_doc and not args.quick:
        write_doc(sections, postgres_url, args.output)
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
