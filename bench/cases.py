"""The benchmark's queries, and the ways of answering them that explorer is compared with."""

from __future__ import annotations

CASES = {
    # users -> orders -> products: 3 levels across 2 databases.
    "three_levels": """\
from: User
attributes: [id, name, email]
include:
  - orders:
      attributes: [id, status, total]
      include:
        - products: {attributes: [id, name, price]}
""",
    # A filtered required include, a filter on the far table, and a limit on roots.
    "filtered_limit": """\
from: User
attributes: [id, name]
where: {"$orders.products.price$": {gt: 150}}
include:
  - orders:
      where: {status: paid}
      attributes: [id, total]
      include:
        - products: {attributes: [id, name, price]}
order: [[id, asc]]
limit: 1000
""",
    # A root with two sibling has_many includes: a flat join multiplies them.
    "siblings": """\
from: User
attributes: [id, name]
include:
  - orders: {attributes: [id, status, total]}
  - reviews: {attributes: [id, rating]}
""",
}
