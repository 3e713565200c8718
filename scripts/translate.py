"""Refresh the Chinese catalog: extract messages, merge, fill from scripts/zh.json, report what is missing.

Usage: .venv/bin/python scripts/translate.py   (then `make translations` compiles it)
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "gridsvc/translations/zh/LC_MESSAGES/messages.po"
GLOSSARY_DIR = ROOT / "scripts/zh"  # one JSON file of English msgid -> Chinese per domain
KEYWORDS = ["_l", "N_", "ValidationError:2", "ConflictError:2", "NotFoundError:2", "DomainError:2", "TrackError:2",
            "PayloadTooLarge:2", "lazy_gettext"]


def main() -> int:
    """Extract, merge and fill; exit 1 when some message has no Chinese yet."""
    pot = ROOT / "instance/messages.pot"
    pot.parent.mkdir(exist_ok=True)
    keyword_args = [arg for keyword in KEYWORDS for arg in ("-k", keyword)]
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(ROOT / "babel.cfg"),
                    *keyword_args, "-o", str(pot), str(ROOT)], check=True, cwd=ROOT)
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "update", "--no-fuzzy-matching",
                    "-i", str(pot), "-d", str(ROOT / "gridsvc/translations"), "-l", "zh"], check=True, cwd=ROOT)
    glossary = {}
    for path in sorted(GLOSSARY_DIR.glob("*.json")):
        glossary.update(json.loads(path.read_text(encoding="utf-8")))
    with open(CATALOG, "rb") as handle:
        catalog = read_po(handle, locale="zh")
    missing = []
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, tuple):  # ngettext: the glossary keys the singular; Chinese has one form
            if message.id[0] in glossary:
                message.string = (glossary[message.id[0]],) * catalog.num_plurals
                message.flags.discard("fuzzy")
            elif not any(message.string):
                missing.append(message.id[0])
        elif message.id in glossary:
            message.string = glossary[message.id]
            message.flags.discard("fuzzy")
        elif not message.string:
            missing.append(message.id)
    # Obsolete entries only confuse translators.
    catalog.obsolete.clear()
    with open(CATALOG, "wb") as handle:
        write_po(handle, catalog, width=120, omit_header=False)
    for text in missing:
        print(f"untranslated: {text}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
