"""bench/RESULTS.md in sections: each bench command rewrites its own and keeps the others.

bench.run writes the shop's table at the top and the section "Library";
bench.federation writes the section "Federation".
"""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).parent / "RESULTS.md"
FEDERATION = "## Federation"
LIBRARY = "## Library"
SHOP_APART = "## Shop, records and frames apart"
SECTIONS = (FEDERATION, LIBRARY, SHOP_APART)


def _span(text: str, heading: str) -> tuple[int, int] | None:
    """Where the section that starts with ``heading`` sits: up to the next ``## `` heading or the end."""
    if text.startswith(heading):
        start = 0
    elif (found := text.find("\n" + heading)) >= 0:
        start = found + 1
    else:
        return None
    end = text.find("\n## ", start + 1)
    return start, len(text) if end < 0 else end + 1


def section(text: str, heading: str) -> str:
    span = _span(text, heading)
    return text[span[0]:span[1]].rstrip() + "\n" if span else ""


def replace_section(path: Path, heading: str, lines: list[str]) -> None:
    """Put ``lines`` (starting with ``heading``) in place of that section, or append them."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    new = "\n".join(lines).rstrip() + "\n"
    span = _span(text, heading)
    if span:
        text = text[:span[0]] + new + ("\n" + text[span[1]:] if text[span[1]:] else "")
    else:
        text = (text.rstrip() + "\n\n" if text.strip() else "") + new
    path.write_text(text, encoding="utf-8")


def replace_top(path: Path, lines: list[str]) -> None:
    """Rewrite the top of RESULTS.md (the shop's table), keeping the sections of SECTIONS."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    kept = [section(text, heading) for heading in SECTIONS]
    path.write_text("\n".join([*lines, "", *[k for k in kept if k]]).rstrip() + "\n", encoding="utf-8")
