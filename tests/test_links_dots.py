"""Template values ``.`` and ``..`` cannot move a request to another path (pure, no I/O).

yarl (and every URL normaliser) removes ``.`` segments and applies ``..``; a value that
fills a whole path segment with one is double-encoded (``%252E``), so the path keeps its
segments and the server sees ``%2E``. Dots elsewhere (query, fragment, inside a longer
segment, written in the template itself) stay as they are.
"""

from __future__ import annotations

import pytest
from yarl import URL

from openproject_async._links import expand


@pytest.mark.parametrize(
    ("template", "values", "filled"),
    [
        ("/api/v3/projects/{id}/versions", {"id": ".."}, "/api/v3/projects/%252E%252E/versions"),
        ("/api/v3/projects/{id}/versions", {"id": "."}, "/api/v3/projects/%252E/versions"),
        ("/api/v3/projects/{id}", {"id": ".."}, "/api/v3/projects/%252E%252E"),
        ("{id}/versions", {"id": ".."}, "%252E%252E/versions"),
        ("/a/{x}?q={x}", {"x": ".."}, "/a/%252E%252E?q=.."),
        ("/a/{x}#{x}", {"x": ".."}, "/a/%252E%252E#.."),
        ("/a/{x}?q=1#f", {"x": "."}, "/a/%252E?q=1#f"),
        ("/a/{x}", {"x": "..."}, "/a/..."),
        ("/a/{x}", {"x": "a.b"}, "/a/a.b"),
        ("/a/{x}.json", {"x": "."}, "/a/..json"),
        ("/./{x}", {"x": ".."}, "/./%252E%252E"),
        ("/../{x}", {"x": "a"}, "/../a"),
        ("/a/{x}/b?q=.", {"x": "a"}, "/a/a/b?q=."),
        ("/a/{x}/{y}", {"x": ".", "y": ".."}, "/a/%252E/%252E%252E"),
    ],
)
def test_dot_segments_are_double_encoded(
    template: str, values: dict[str, str], filled: str
) -> None:
    assert expand(template, values) == filled


def test_the_request_path_keeps_its_segments() -> None:
    url = URL("https://op.test").join(URL(expand("/api/v3/projects/{id}/versions", {"id": ".."})))
    assert url.raw_path == "/api/v3/projects/%252E%252E/versions"
    assert url.path == "/api/v3/projects/%2E%2E/versions"  # what the server reads


def test_unencoded_expansion_leaves_values_alone() -> None:
    assert expand("/a/{x}/b", {"x": ".."}, encode=False) == "/a/../b"
