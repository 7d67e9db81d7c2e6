"""A new typology from the template: ``iff typologies new ID`` writes one folder's worth.

The four template files beside this module become ``typologies/<ID>.yaml``,
``sql/typologies/<ID>.sql`` and a must-fire and a must-not-fire case in
``fixtures/typologies/<ID>/``. They make a working typology (an account credited by many
distinct senders on one day) that loads into the catalog and passes its two cases, for the
author to turn into the real one (README, "Writing a typology").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

from engine.catalog import family_of
from engine.errors import InputError

TEMPLATES: Final = (
    ("typology.yaml", "typologies/{id}.yaml"),
    ("typology.sql", "sql/typologies/{id}.sql"),
    ("pos_1.yaml", "fixtures/typologies/{id}/pos_1.yaml"),
    ("neg_1.yaml", "fixtures/typologies/{id}/neg_1.yaml"),
)
"""Template file -> where it goes under the project folder."""


def scaffold_typology(root: Path, typology_id: str, title: str | None = None) -> tuple[Path, ...]:
    """Write the template files of a new typology under ``root``; returns the paths.

    Raises:
        InputError: a malformed id, a title of more than one line, a ``root`` without a
            ``typologies/`` folder, or a typology that exists already (nothing is written).
    """
    family = family_of(typology_id)
    title = (title or f"{typology_id} (new typology: replace this title)").strip()
    if not title or "\n" in title:
        raise InputError("the title must be one line of text")
    if not (root / "typologies").is_dir():
        raise InputError(
            "no typologies/ folder here: run from the project folder or pass --root", str(root)
        )
    targets = tuple(root / target.format(id=typology_id) for _, target in TEMPLATES)
    if existing := [str(p) for p in targets if p.exists()]:
        raise InputError(f"typology {typology_id} exists already: {', '.join(existing)}")
    values = {"id": typology_id, "family": family}
    for (template, _), target in zip(TEMPLATES, targets, strict=True):
        text = (Path(__file__).parent / template).read_text(encoding="utf-8")
        # YAML gets the title as a quoted scalar (JSON strings are valid YAML)
        quoted = json.dumps(title, ensure_ascii=False) if template.endswith(".yaml") else title
        for key, value in {**values, "title": quoted}.items():
            text = text.replace("{{" + key + "}}", value)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return targets
