"""Rewrite one marked section of a results document, keeping every other section as it is.

Each benchmark owns the text between `<!-- NAME:start -->` and `<!-- NAME:end -->`, so one run can
refresh its numbers without touching the others'.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["markers", "replace_section"]


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def replace_section(document: Path, name: str, section: str) -> None:
    """Put `section` (markers included) in place of the old one, or append it."""
    start, end = markers(name)
    text = document.read_text(encoding="utf-8") if document.exists() else "# Benchmarks\n"
    if start in text and end in text:
        text = text[: text.index(start)] + section + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    document.parent.mkdir(parents=True, exist_ok=True)
    document.write_text(text, encoding="utf-8")
