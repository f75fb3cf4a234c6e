"""The same queries give the same records (and frames) on SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

import pytest
from oracle import normalize
from shopcases import CASES, extended

import explorer

pytestmark = [pytest.mark.mysql, pytest.mark.postgresql]

MORE = {
    "every_kind_deep": {
        "from": "Category", "attributes": ["name"],
        "include": [{"products": {"attributes": ["name", "price"], "include": [
            {"orders": {"attributes": ["total", "created_at"], "include": [{"user": {"attributes": ["name"]}}]}},
            {"reviews": {"attributes": ["rating", "body"], "include": ["author"]}}]}}],
        "order": [["name", "desc"]],
    },
    "unicode_filters": {"from": "User", "where": {"name": {"in": ["Zoë 张伟", "Chloé", "Dan O'Brien"]}},
                        "include": [{"reviews": {"where": {"body": {"like": "%'%"}}, "required": False}}]},
    "dates_and_decimals": {"from": "Order", "attributes": ["id", "total", "created_at"],
                           "include": [{"lines": {"include": [{"shipments": {"attributes": ["shipped_on"]}}]}}],
                           "where": {"total": {"between": [5, 60]}}, "order": [["total", "desc"]]},
    "params": {"from": "Product", "attributes": ["id", "name"], "where": {"id": {"gte": ":low"}},
               "include": [{"reviews": {"where": {"rating": {"gte": ":least"}}}}]},
    "limit_only_to_one": {"from": "Review", "include": ["author", "product"], "order": [["rating", "desc"]],
                          "limit": 3, "offset": 1},
}
PARAMS = {"params": {"low": 3, "least": 3}}


@pytest.fixture(scope="module")
def backends(request) -> dict[str, explorer.Config]:
    return {name: extended(request.getfixturevalue(f"{name}_shop")) for name in ("sqlite", "mysql", "postgresql")}


@pytest.mark.parametrize("case", sorted({**CASES, **MORE}))
def test_same_records_on_every_backend(backends, case):
    query = {**CASES, **MORE}[case]
    results = {name: explorer.run(config, query, params=PARAMS.get(case)) for name, config in backends.items()}
    records = {name: normalize(result.records) for name, result in results.items()}
    assert records["mysql"] == records["sqlite"]
    assert records["postgresql"] == records["sqlite"]
    frames = {name: result.frames for name, result in results.items()}
    for name in ("mysql", "postgresql"):
        assert list(frames[name]) == list(frames["sqlite"])
        for path, frame in frames["sqlite"].items():
            assert list(frames[name][path].columns) == list(frame.columns), path
            assert len(frames[name][path]) == len(frame), path
        assert list(results[name].frame.columns) == list(results["sqlite"].frame.columns)
        assert len(results[name].frame) == len(results["sqlite"].frame)


def test_integer_dtypes_agree(backends):
    query = {"from": "User", "attributes": ["id"], "include": [{"orders": {"attributes": ["id", "user_id"]}}]}
    dtypes = {name: explorer.run(config, query).frame.dtypes.astype(str).to_dict()
              for name, config in backends.items()}
    assert dtypes["sqlite"] == dtypes["mysql"] == dtypes["postgresql"]
    assert dtypes["sqlite"]["orders.id"] == "Int64"
