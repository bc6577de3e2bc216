"""The owner directory: who a 负责人 cell names, and how each channel can @ them.

YAML (a mapping of names, or a list with ``name:``) or CSV (a header row; the first column
is the name — 负责人, name or owner — then any of mobile, email, feishu_open_id, slack_id)::

    王丽: {mobile: "13800001111", email: wangli@example.com, feishu_open_id: ou_7d8a6e6df7621556ce0d21922b676706ccs, slack_id: U012AB3CD}

Unknown keys and malformed files are config errors with file and line. A name the tracker
uses that the directory lacks is not an error: messages show the name without an @, and the
run says so once (:func:`sync.notify.deliver.notify_run`).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .. import yamlio
from ..errors import ConfigError
from ..text import fold

NAME_HEADERS = ("负责人", "負責人", "name", "owner")
FIELDS = ("mobile", "email", "feishu_open_id", "slack_id")
#: Between names in one owner cell: 王丽/张伟, 王丽、张伟, 王丽,张伟
_SPLIT = re.compile(r"[/、,，;；&]+|\s+和\s+")
#: Roles around a name: 主责:王丽, 王丽(主责), 协办人:张伟
_ROLE = re.compile(
    r"^\s*(主责人?|协办人?|主要负责|primary|helper)\s*[:：]\s*|[(（][^)）]*[)）]", re.I
)


class Owner(BaseModel):
    """How to reach one person (every field optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    mobile: str | None = None
    email: str | None = None
    feishu_open_id: str | None = None
    slack_id: str | None = None


@dataclass(frozen=True)
class Directory:
    """Owners by folded name."""

    owners: dict[str, Owner]

    def find(self, cell: Any) -> tuple[list[Owner], list[str]]:
        """The owners a 负责人 cell names (the whole cell first, then each name in it after
        dropping roles like 主责: / (协办)), and the names not in the directory.

        >>> d = Directory({"王丽": Owner(name="王丽", mobile="1")})
        >>> d.find("主责:王丽/张伟(协办)")
        ([Owner(name='王丽', mobile='1', email=None, feishu_open_id=None, slack_id=None)], ['张伟'])
        """
        text = "" if cell is None else str(cell).strip()
        if not text:
            return [], []
        whole = self.owners.get(fold(text))
        if whole is not None:
            return [whole], []
        found: list[Owner] = []
        missing: list[str] = []
        for part in _SPLIT.split(text):
            name = _ROLE.sub("", part).strip()
            if not name:
                continue
            owner = self.owners.get(fold(name))
            if owner is None:
                if name not in missing:
                    missing.append(name)
            elif owner not in found:
                found.append(owner)
        return found, missing


EMPTY = Directory({})


def load_owners(path: Path | None) -> Directory:
    """The directory at ``path`` (YAML or CSV by extension); empty without one."""
    if path is None:
        return EMPTY
    if path.suffix.lower() == ".csv":
        return _directory(_read_csv(path))
    doc = yamlio.load(path)
    data = doc.data
    items: list[tuple[list[str | int], Any]] = []
    if data is None:
        return EMPTY
    if isinstance(data, dict):
        for name, fields in data.items():
            if fields is None:
                fields = {}
            if not isinstance(fields, dict):
                raise ConfigError(
                    f"{doc.where([name])}: {name}: give mobile / email / feishu_open_id / "
                    "slack_id as a mapping"
                )
            items.append(([name], {"name": str(name), **fields}))
    elif isinstance(data, list):
        items = [([i], item) for i, item in enumerate(data)]
    else:
        raise ConfigError(f"{doc.where([])}: the owner directory must be a mapping of names")
    owners = []
    for loc, item in items:
        try:
            owners.append(Owner.model_validate(item))
        except ValidationError as exc:
            raise ConfigError(
                "invalid owner directory:\n"
                + yamlio.format_pydantic_errors(doc, exc.errors(), prefix=loc)
            ) from None
    return _directory(owners)


def _read_csv(path: Path) -> list[Owner]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found (notify.owners)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        return []
    head = [h.strip() for h in rows[0]]
    if not head or fold(head[0]) not in {fold(h) for h in NAME_HEADERS}:
        raise ConfigError(
            f"{path}:1: the first column must be the owner's name (负责人 or name), then any "
            f"of {', '.join(FIELDS)}"
        )
    unknown = [h for h in head[1:] if h not in FIELDS]
    if unknown:
        raise ConfigError(f"{path}:1: unknown column {unknown[0]!r} (known: {', '.join(FIELDS)})")
    owners = []
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        values = {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(head)}
        if not values[head[0]]:
            raise ConfigError(f"{path}:{n}: the name is empty")
        fields = {h: v for h, v in values.items() if h != head[0] and v}
        owners.append(Owner(name=values[head[0]], **fields))
    return owners


def _directory(owners: list[Owner]) -> Directory:
    return Directory({fold(o.name): o for o in owners})
