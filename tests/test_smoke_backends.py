"""The demo query gives the same records on SQLite, MariaDB and PostgreSQL."""

import explorer
from explorer import demo


def test_demo_query_on_every_backend(shop, sqlite_shop):
    result = explorer.run(shop, demo.DEMO_QUERY)
    assert result.records == explorer.run(sqlite_shop, demo.DEMO_QUERY).records
    assert [u["name"] for u in result.records] == ["Alice", "Bob", "Chloé", "Dan O'Brien", "Zoë 张伟"]
    alice = result.records[0]
    assert [o["id"] for o in alice["orders"]] == [1, 10]
    assert [p["name"] for p in alice["orders"][0]["products"]] == ["Fountain pen", 'Notebook "A5"']
    assert alice["orders"][1]["products"] == []
