"""``python -m bench.sequelize check [CASE ...]``: compare explorer's records with Sequelize's (exit 1 if they differ)."""

from __future__ import annotations

import sys

from bench import library
from bench.cases import LIBRARY_CASES
from bench.sequelize import check, unavailable


def main(argv: list[str]) -> None:
    if argv[:1] != ["check"]:
        sys.exit(__doc__)
    if note := unavailable():
        sys.exit(note)
    for case in argv[1:] or LIBRARY_CASES:
        check(case, LIBRARY_CASES[case], library.CONFIG)


if __name__ == "__main__":
    main(sys.argv[1:])
