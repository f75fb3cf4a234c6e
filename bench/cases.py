"""The benchmark's queries: the shop's cases and the library's (compared with Sequelize)."""

from __future__ import annotations

SHOP_CASES = {  # on the shop (bench.generate, bench/data/mysql.yaml)
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

LIBRARY_CASES = {  # on the library (bench.library, bench/data/library.yaml), side by side with Sequelize
    # members -> loans -> book: a has_many chain ending in a belongs_to across databases.
    "library_chain": """\
from: Member
include:
  - loans:
      include: [book]
""",
    # ... and each book's authors: a belongs_to_many through BookAuthor below the has_many.
    "library_authors": """\
from: Member
include:
  - loans:
      include:
        - book:
            include: [authors]
""",
    # Members with a loan of a book from 2000 on, and only those loans: a filter on the far table.
    "library_required": """\
from: Member
include:
  - loans:
      required: true
      include:
        - book: {where: {year: {gte: 2000}}}
""",
}

CASES = {**SHOP_CASES, **LIBRARY_CASES}
