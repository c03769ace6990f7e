"""schemathesis hooks for tests/test_core_contract.py: constraints the OpenAPI document
states in words because JSON Schema cannot express them.

Tag keys must be unique ignoring case (``m`` and ``M`` are one key: the server refuses
the pair with 400, so a user cannot shadow the server-set ``creatorUserId`` with another
spelling). JSON Schema has no case-insensitive uniqueness, so generated bodies that
break it are not "schema-valid" in the document's own terms; they are left out here, and
tests/test_core_tag_integrity.py checks the refusal itself.
"""

from __future__ import annotations

from typing import Any

import schemathesis


def unique_ignoring_case(body: Any) -> bool:
    tags = body.get("tags") if isinstance(body, dict) else None
    if not isinstance(tags, dict):
        return True
    folded = [k.casefold() for k in tags if isinstance(k, str)]
    return len(folded) == len(set(folded))


@schemathesis.hook
def filter_body(ctx: Any, body: Any) -> bool:
    return unique_ignoring_case(body)
