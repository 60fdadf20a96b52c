"""API Gateway HTTP API route keys and route selection: the one matcher.

The api handler (405 + `Allow` on its `$default` route) and the test helpers (events
routed as API Gateway would) select routes here. The local gateway
(scripts/local_stack/gateway.py) still has its own copy of the selection;
tests/local_stack/test_gateway_routing.py fails when the two pick differently.

A route key is `$default` or `<METHOD> <path template>`: METHOD is an HTTP method or
`ANY`; a segment `{name}` matches one path segment, a last segment `{name+}` (greedy)
the rest of the path. Selection, as API Gateway does it: the most specific match wins
(more literal segments first, then an exact method over `ANY`), `$default` last.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

DEFAULT_ROUTE = "$default"
ANY_METHOD = "ANY"


class RouteKey(NamedTuple):
    key: str
    method: str
    pattern: re.Pattern[str]
    literal_segments: int

    @classmethod
    def parse(cls, key: str) -> RouteKey:
        method, separator, template = key.partition(" ")
        if not separator or not template.startswith("/") or method != method.upper():
            raise ValueError(f"not a route key '<METHOD> /path': {key!r}")
        regex, literals = "", 0
        for segment in template.strip("/").split("/"):
            if segment.startswith("{") and segment.endswith("+}"):
                regex += rf"/(?P<{segment[1:-2]}>.+)"
            elif segment.startswith("{") and segment.endswith("}"):
                regex += rf"/(?P<{segment[1:-1]}>[^/]+)"
            elif segment:
                regex += "/" + re.escape(segment)
                literals += 1
        return cls(key, method, re.compile(regex or "/"), literals)

    def match(self, path: str) -> dict[str, str] | None:
        """The path parameters when `path` matches the template (any method), else None."""
        found = self.pattern.fullmatch(path)
        return None if found is None else found.groupdict()


class RouteTable:
    """The route keys of one API (`$default` included or not)."""

    def __init__(self, route_keys: Iterable[str]) -> None:
        keys = list(route_keys)
        self.has_default = DEFAULT_ROUTE in keys
        self.routes = tuple(RouteKey.parse(key) for key in keys if key != DEFAULT_ROUTE)

    def select(self, method: str, path: str) -> tuple[str | None, dict[str, str]]:
        """The route key API Gateway picks for `method path` and its path parameters;
        `$default` (or None without one) when no route matches."""
        best: tuple[tuple[int, bool], RouteKey, dict[str, str]] | None = None
        for route in self.routes:
            if route.method not in (method, ANY_METHOD):
                continue
            params = route.match(path)
            rank = (route.literal_segments, route.method != ANY_METHOD)
            if params is not None and (best is None or rank > best[0]):
                best = (rank, route, params)
        if best is not None:
            return best[1].key, best[2]
        return (DEFAULT_ROUTE if self.has_default else None), {}

    def methods_for(self, path: str) -> list[str]:
        """The methods of the routes whose template matches `path` (sorted)."""
        return sorted({route.method for route in self.routes if route.match(path) is not None})
