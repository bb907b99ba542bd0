"""The ``--filter`` / ``--sort`` / ``--select`` mini-languages of ``openproject-async export``
(what each spelling sends; the export tests send them to the server)."""

from __future__ import annotations

from typing import Any

import pytest

from openproject_async._cli._common import CliError
from openproject_async._cli._filters import parse_filters, parse_select, parse_sort


def one(name: str, operator: str, values: list[str]) -> list[dict[str, Any]]:
    return [{name: {"operator": operator, "values": values}}]


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ("status=o", one("status", "o", [])),
        ("status=c", one("status", "c", [])),
        ("status=*", one("status", "*", [])),
        ("assignee=!*", one("assignee", "!*", [])),
        ("assignee=me", one("assignee", "=", ["me"])),
        ("type=1,2", one("type", "=", ["1", "2"])),
        ("type = 1, 2", one("type", "=", ["1", "2"])),
        ("type!=1,2", one("type", "!", ["1", "2"])),
        ("priority!4", one("priority", "!", ["4"])),
        ("subject~A new work package", one("subject", "~", ["A new work package"])),
        ("subject~a,b", one("subject", "~", ["a,b"])),  # a text is not split
        ("subject!~draft", one("subject", "!~", ["draft"])),
        ("subject=o", one("subject", "=", ["o"])),  # o/c are operators for status only
        ("updatedAt>=2025-01-01", one("updatedAt", "<>d", ["2025-01-01", ""])),
        ("updatedAt>=2025-01-01T08:00:00Z", one("updatedAt", "<>d", ["2025-01-01T08:00:00Z", ""])),
        ("dueDate<=2025-02-01", one("dueDate", "<>d", ["", "2025-02-01"])),
        ("customField1>=5", one("customField1", ">=", ["5"])),
        ("percentageDone<=50", one("percentageDone", "<=", ["50"])),
        ("createdAt:>t-:7", one("createdAt", ">t-", ["7"])),
        ("status:o", one("status", "o", [])),
        ("id:=:1,2", one("id", "=", ["1", "2"])),
        ('{"status": {"operator": "o", "values": null}}', one("status", "o", None)),  # type: ignore[arg-type]
        (
            '[{"type": {"operator": "=", "values": ["2"]}}, '
            '{"priority": {"operator": "!", "values": ["4"]}}]',
            [
                {"type": {"operator": "=", "values": ["2"]}},
                {"priority": {"operator": "!", "values": ["4"]}},
            ],
        ),
    ],
)
def test_filter_spellings(text: str, sent: list[dict[str, Any]]) -> None:
    assert parse_filters([text]) == sent


def test_filters_are_anded_in_order() -> None:
    assert parse_filters(["status=o", "assignee=me"]) == [
        {"status": {"operator": "o", "values": []}},
        {"assignee": {"operator": "=", "values": ["me"]}},
    ]
    assert parse_filters(None) is None
    assert parse_filters([]) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("status", "cannot read filter 'status': expected NAME=VALUE"),
        ("=o", "cannot read filter '=o': expected"),
        ("1abc=2", "cannot read filter '1abc=2': expected"),
        ("subject~", "filter 'subject~': ~ needs a text"),
        ("type=", "filter 'type=': no value after ="),
        ("type=,", "filter 'type=,': no value after ="),
        ("updatedAt>=", "filter 'updatedAt>=': >= needs a value"),
        ("[1, 2]", "raw JSON must be a filter object"),
        ('{"status": "o"}', "raw JSON must be a filter object"),
        ('{"a": {"operator": "="}, "b": {"operator": "="}}', "raw JSON must be a filter object"),
        ("[{oops", "filter '[{oops': invalid JSON"),
    ],
)
def test_unreadable_filters_are_usage_errors(text: str, message: str) -> None:
    with pytest.raises(CliError) as caught:
        parse_filters([text])
    assert caught.value.code == 2
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ("id", [["id", "asc"]]),
        ("updatedAt:desc,id", [["updatedAt", "desc"], ["id", "asc"]]),
        ("-updatedAt, subject:ASC", [["updatedAt", "desc"], ["subject", "asc"]]),
        (
            '[["assignee", "asc"], ["createdAt", "desc"]]',
            [["assignee", "asc"], ["createdAt", "desc"]],
        ),
    ],
)
def test_sort_spellings(text: str, sent: list[list[str]]) -> None:
    assert parse_sort(text) == sent


@pytest.mark.parametrize("text", ["id:up", "id:", ",", '[["id"]]', "[oops", "a b"])
def test_unreadable_sorts(text: str) -> None:
    with pytest.raises(CliError, match="--sort") as caught:
        parse_sort(text)
    assert caught.value.code == 2


def test_select() -> None:
    assert parse_select("id, subject,status") == "*,elements/id,elements/subject,elements/status"
    assert parse_select("total,elements/id") == "total,elements/id"
    assert parse_select("*,elements/*") == "*,elements/*"
    assert parse_select(None) is None
    assert parse_select("  ") is None
