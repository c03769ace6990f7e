"""`-o` and `%%sql` results that sparkmagic cut to its row limit say so.

sparkmagic brings back at most `-n` rows (2,500 by default) and says nothing when there
were more (sparkmagic #349, #655): a user counts the rows of `df` and trusts the number.
Here the query asks for one row more than the limit; when that row comes, it is dropped and
the cell says how many rows were kept and how to get more. The default limit is the
Workspace's setting (`default_maxrows` in its sparkmagic config).
"""

from __future__ import annotations

from typing import Any


def cut_note(limit: int) -> str:
    return (
        f"Only the first {limit:,} rows were brought back: the result has more (the row limit, "
        f"-n {limit}). Use -n with a larger number for more rows, or -n -1 for all of them "
        "(they must fit in this kernel's memory); or aggregate in Spark first."
    )


def limited(execute: Any) -> Any:
    """`execute` of sparkmagic's SQLQuery or SparkStoreCommand, telling when it cut."""

    def run(self: Any, session: Any) -> Any:
        limit = self.maxrows
        if not isinstance(limit, int) or limit < 0:
            return execute(self, session)
        self.maxrows = limit + 1  # one more than kept: its presence says there were more
        try:
            frame = execute(self, session)
        finally:
            self.maxrows = limit
        if len(frame) > limit:
            frame = frame.iloc[:limit]
            session.ipython_display.writeln(cut_note(limit))
        return frame

    run._emr_workspace = True  # type: ignore[attr-defined]
    return run


def install() -> None:
    from sparkmagic.livyclientlib.sparkstorecommand import SparkStoreCommand
    from sparkmagic.livyclientlib.sqlquery import SQLQuery

    for cls in (SQLQuery, SparkStoreCommand):
        if not getattr(cls.execute, "_emr_workspace", False):
            cls.execute = limited(cls.execute)
