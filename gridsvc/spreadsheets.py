"""Text cells that spreadsheet programs must not run: one rule for every CSV and XLSX gridsvc writes."""
from __future__ import annotations

# Excel, LibreOffice and WPS run a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(text: str) -> bool:
    """True when a spreadsheet would take the text as a formula (after any leading quotes, so that a
    text that itself starts with ' and a formula character survives a round trip)."""
    return text.lstrip("'").startswith(FORMULA_STARTS)


def escape_formula(text: str) -> str:
    """The text as a CSV cell: a leading ' where a spreadsheet would run it."""
    return "'" + text if looks_like_formula(text) else text


def unescape_formula(text: str) -> str:
    """escape_formula undone, for a CSV cell read back."""
    if len(text) > 1 and text[0] == "'" and looks_like_formula(text):
        return text[1:]
    return text
