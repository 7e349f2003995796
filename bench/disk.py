"""Disk: how big the database grows per million spans, events and metric points, column by column.

1. A database of ``--spans`` Claude-Code-shaped spans, with the events and metric points the same
   simulated sessions send: the simulator's export stream through the real decoder and writer
   (``bench/bigdb.py``'s seed, no copies: every row is what a live otelwatch would store),
   then ``CHECKPOINT``. Kept at ``--db`` and reused.
2. The file size, and where it goes: every column segment's place in the file
   (``pragma_storage_info``: block and offset) gives its size as the distance to the next
   segment of the same 256 KiB block (the last segment of a block is charged the block's free
   rest, so the figures are upper bounds that add up to the blocks in use).
3. What the JSON would take without the promoted keys: the ``attributes`` column copied, with
   and without them, into a scratch table with the same ZSTD compression.

    .venv/bin/python bench/disk.py --db /tmp/otelwatch-disk-1m.duckdb --json disk.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bigdb import seed  # bench/ is not a package

from otelwatch.ingest.normalize import PROMOTED_KEYS
from otelwatch.store import database

MIB = 1024 * 1024
TABLES = ("spans", "log_events", "metric_points", "resources")
# The attribute keys each table copies to a column (ingest/normalize.py).
PROMOTED = {
    "spans": ("session.id", "span.type", "model", "gen_ai.request.model", "tool_name"),
    "log_events": tuple(sorted(PROMOTED_KEYS)),
    "metric_points": ("session.id", "model", "type"),
}


def build(path: Path, spans: int) -> None:
    started = time.perf_counter()
    conn = database.connect(path)
    seed(conn, spans)
    conn.execute("CHECKPOINT")
    conn.close()
    print(f"built {path} in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def segment_sizes(conn: Any, tables: tuple[str, ...] = TABLES) -> dict[str, dict[str, int]]:
    """Bytes per table and column, from where each segment sits in the file."""
    block_size = conn.execute("SELECT block_size FROM pragma_database_size()").fetchone()[0]
    placed: list[tuple[int, int, str, str]] = []  # block, offset, table, column
    extra: dict[tuple[str, str], int] = defaultdict(int)
    for table in tables:
        rows = conn.execute(
            "SELECT column_name, block_id, block_offset, additional_block_ids "
            f"FROM pragma_storage_info('{table}') WHERE persistent AND block_id >= 0"
        ).fetchall()
        for column, block, offset, more in rows:
            placed.append((block, offset, table, column))
            extra[table, column] += len(more or []) * block_size
    sizes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    placed.sort()
    for i, (block, offset, table, column) in enumerate(placed):
        following = placed[i + 1] if i + 1 < len(placed) else None
        end = following[1] if following is not None and following[0] == block else block_size
        sizes[table][column] += end - offset
    for (table, column), size in extra.items():
        sizes[table][column] += size
    return {t: dict(c) for t, c in sizes.items()}


def json_without_promoted(conn: Any, table: str, keys: tuple[str, ...]) -> dict[str, float]:
    """MiB of the table's ``attributes`` stored with ZSTD, with and without ``keys``."""
    patch = json.dumps(dict.fromkeys(keys))  # a merge patch of nulls removes those keys
    result = {}
    for label, expr in (
        ("as stored", "attributes"),
        ("without promoted keys", f"json_merge_patch(attributes, '{patch}')"),
    ):
        conn.execute("DROP TABLE IF EXISTS scratch_json")
        conn.execute("CREATE TABLE scratch_json (a JSON USING COMPRESSION zstd)")
        conn.execute(f"INSERT INTO scratch_json SELECT {expr} FROM {table}")
        conn.execute("CHECKPOINT")
        size = sum(segment_sizes(conn, ("scratch_json",))["scratch_json"].values())
        result[label] = round(size / MIB, 1)
    conn.execute("DROP TABLE scratch_json")
    conn.execute("CHECKPOINT")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=Path("/tmp/otelwatch-disk-1m.duckdb"))
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.rebuild and args.db.exists():
        args.db.unlink()
    if not args.db.exists():
        build(args.db, args.spans)

    conn = database.connect(args.db)
    conn.execute("CHECKPOINT")
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    file_bytes = args.db.stat().st_size
    _, _, block_size, total_blocks, used_blocks, free_blocks, *_ = conn.execute(
        "PRAGMA database_size"
    ).fetchone()
    sizes = segment_sizes(conn)
    result: dict[str, Any] = {
        "db": str(args.db),
        "file_mib": round(file_bytes / MIB, 1),
        "rows": counts,
        "file_mib_per_million_spans": round(file_bytes / MIB / counts["spans"] * 1e6, 1),
        # Blocks freed by checkpoints stay in the file, to be reused: DuckDB does not shrink it.
        "blocks_mib": {
            "used": round(used_blocks * block_size / MIB, 1),
            "free": round(free_blocks * block_size / MIB, 1),
            "total": round(total_blocks * block_size / MIB, 1),
        },
        "tables": {},
    }
    for table in TABLES:
        columns = sizes.get(table, {})
        total = sum(columns.values())
        rows = max(1, counts[table])
        result["tables"][table] = {
            "mib": round(total / MIB, 1),
            "mib_per_million_rows": round(total / MIB / rows * 1e6, 1),
            "bytes_per_row": round(total / rows, 1),
            "columns_mib_per_million_rows": {
                c: round(b / MIB / rows * 1e6, 2)
                for c, b in sorted(columns.items(), key=lambda kv: -kv[1])
            },
        }
    result["json_attributes_mib"] = {
        table: json_without_promoted(conn, table, keys) for table, keys in PROMOTED.items()
    }
    conn.close()

    print(json.dumps(result, indent=2))
    print(
        f"\n{counts['spans']:,} spans, {counts['log_events']:,} events, "
        f"{counts['metric_points']:,} metric points: {result['file_mib']} MiB file, "
        f"{result['file_mib_per_million_spans']} MiB per million spans"
    )
    print("\n| table | rows | MiB | MiB per million rows | bytes per row |")
    print("| --- | --: | --: | --: | --: |")
    for table, t in result["tables"].items():
        print(
            f"| {table} | {counts[table]:,} | {t['mib']} | {t['mib_per_million_rows']} "
            f"| {t['bytes_per_row']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
