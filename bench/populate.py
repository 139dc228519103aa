"""Filling the database with 100,000 live conferences in about a second, straight through SQLite.

Creating them through the API would take minutes on this box. Instead one conference is created through
``conference.create`` (so every column holds what the service itself writes), the service is stopped,
and that row is copied N times in one transaction with new names (``bench-pop-<n>``) and numericIds,
together with its ``conference_numeric_id`` claim; the ``conference_state`` live count is raised to
match. Every other column is copied as-is from the template, so the copies are what the service would
have written. The service is then started again on the filled file.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bench.scenarios import POPULATE_ID_BASE

TEMPLATE_NAME = "bench-template"


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [str(row[1]) for row in db.execute(f"PRAGMA table_info({table})")]


def copy_template(database: Path, count: int, first_number: int) -> int:
    """Add ``count`` copies of the template conference; return the live conference count afterwards."""
    db = sqlite3.connect(database)
    try:
        with db:
            template = db.execute("SELECT id FROM conference WHERE name = ?", (TEMPLATE_NAME,)).fetchone()
            if template is None:
                raise RuntimeError(f"no template conference {TEMPLATE_NAME!r} to copy")
            copied = [name for name in _columns(db, "conference") if name not in ("id", "name", "numeric_id")]
            column_list = ", ".join(copied)
            db.execute(
                f"""
                WITH RECURSIVE seq(n) AS (SELECT ? UNION ALL SELECT n + 1 FROM seq WHERE n < ?)
                INSERT INTO conference (name, numeric_id, {column_list})
                SELECT 'bench-pop-' || seq.n, CAST(? + seq.n AS TEXT), {column_list}
                FROM seq, conference WHERE conference.id = ?
                """,  # noqa: S608 - column names come from the schema itself
                (first_number, first_number + count - 1, POPULATE_ID_BASE, template[0]),
            )
            claim_columns = [name for name in _columns(db, "conference_numeric_id") if name != "numeric_id"]
            if set(claim_columns) >= {"conference_id", "guest"}:
                db.execute(
                    """
                    INSERT INTO conference_numeric_id (numeric_id, conference_id, guest)
                    SELECT numeric_id, id, 0 FROM conference WHERE name LIKE 'bench-pop-%' AND numeric_id NOT IN
                        (SELECT numeric_id FROM conference_numeric_id)
                    """
                )
            live = int(db.execute("SELECT count(*) FROM conference").fetchone()[0])
            if "conference_count" in _columns(db, "conference_state"):
                db.execute("UPDATE conference_state SET conference_count = ?", (live,))
            return live
    finally:
        db.close()
