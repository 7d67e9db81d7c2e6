"""Typology catalog: YAML metadata plus one SQL file per typology, loaded into frozen objects.

Loading checks every file and fails once with the full list of problems: unknown keys,
id different from the file stem, missing SQL, SQL parameters that do not match the
declared ones, severity inconsistent with risk_score, unknown columns in ``requires``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal, get_args

import yaml

from engine import schema
from engine.config import ParamValue
from engine.errors import CatalogError, InputError
from engine.resources import sql_dir, typologies_dir

Status = Literal["experimental", "test", "stable", "deprecated"]
Severity = Literal["informational", "low", "medium", "high", "critical"]

SEVERITY_SCORE_RANGE: Final[Mapping[str, tuple[int, int]]] = MappingProxyType(
    {
        "informational": (0, 19),
        "low": (20, 39),
        "medium": (40, 69),
        "high": (70, 89),
        "critical": (90, 100),
    }
)
"""risk_score (0-100) each severity allows."""

FAMILIES: Final = (
    "SEX",
    "CTRL",
    "LAB",
    "PROP",
    "XB",
    "PAY",
    "LIFE",
    "BIZ",
    "STR",
    "FLOW",
    "GRAPH",
)

_ID_PATTERN = re.compile(r"^[A-Z]+-\d{2}$")
_SQL_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_REQUIRED_KEYS = {
    "id",
    "title",
    "status",
    "version",
    "family",
    "description",
    "references",
    "tags",
    "subject",
    "requires",
    "params",
    "severity",
    "risk_score",
    "likely_role",
    "falsepositives",
    "runbook",
}
_OPTIONAL_KEYS = {"bounds"}
_REFERENCE_KEYS = {"document", "indicator", "verified", "notes"}
_PARAM_KEYS = {"default", "description"}
# libyaml's safe loader when PyYAML was built with it: same documents, ten times faster
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Reference:
    """Where an indicator comes from. ``verified`` is False for second-hand or recalled
    sources (see the catalogue's source table)."""

    document: str
    indicator: str | None
    verified: bool
    notes: str | None = None


@dataclass(frozen=True)
class Param:
    name: str
    default: ParamValue
    description: str


@dataclass(frozen=True)
class Typology:
    """One typology: metadata, its SQL and a content hash of both."""

    id: str
    title: str
    status: Status
    version: int
    family: str
    description: str
    references: tuple[Reference, ...]
    tags: tuple[str, ...]
    subject: str
    requires: tuple[str, ...]
    params: tuple[Param, ...]
    severity: Severity
    risk_score: int
    likely_role: str
    falsepositives: tuple[str, ...]
    runbook: str
    bounds: str | None
    sql: str
    sql_path: Path
    content_hash: str

    def defaults(self) -> dict[str, ParamValue]:
        return {p.name: p.default for p in self.params}


@dataclass(frozen=True)
class Catalog:
    typologies: tuple[Typology, ...]

    def ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.typologies)

    def get(self, typology_id: str) -> Typology:
        for t in self.typologies:
            if t.id == typology_id:
                return t
        raise InputError(f"unknown typology {typology_id!r}; known: {', '.join(self.ids())}")

    def select(self, ids: Sequence[str]) -> Catalog:
        """The typologies to run: the given ids, or every non-deprecated one."""
        if ids:
            return Catalog(tuple(self.get(i) for i in dict.fromkeys(ids)))
        return Catalog(tuple(t for t in self.typologies if t.status != "deprecated"))


def load_catalog(yaml_dir: Path | None = None, sql_root: Path | None = None) -> Catalog:
    """Load and check every ``<id>.yaml`` with its ``sql/typologies/<id>.sql``.

    Raises:
        CatalogError: with every problem of every file.
    """
    yaml_dir = yaml_dir or typologies_dir()
    sql_root = sql_root or (sql_dir() / "typologies")
    problems: list[str] = []
    typologies = []
    for path in sorted(yaml_dir.glob("*.yaml")):
        typology = _load_one(path, sql_root, problems)
        if typology is not None:
            typologies.append(typology)
    known = {p.stem for p in yaml_dir.glob("*.yaml")}
    for sql_path in sorted(sql_root.glob("*.sql")):
        if sql_path.stem not in known:
            problems.append(f"{sql_path}: SQL file without a typology YAML")
    if problems:
        raise CatalogError(problems)
    return Catalog(tuple(typologies))


def _load_one(path: Path, sql_root: Path, problems: list[str]) -> Typology | None:
    where = str(path)
    before = len(problems)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        problems.append(f"{where}: not valid YAML ({exc})")
        return None
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping of keys")
        return None

    def problem(msg: str) -> None:
        problems.append(f"{where}: {msg}")

    if unknown := sorted(set(raw) - _REQUIRED_KEYS - _OPTIONAL_KEYS):
        problem(f"unknown keys {unknown}")
    if missing := sorted(_REQUIRED_KEYS - set(raw)):
        problem(f"missing keys {missing}")
        return None

    typology_id = str(raw["id"])
    if typology_id != path.stem:
        problem(f"id {typology_id!r} differs from the file name {path.stem!r}")
    if not _ID_PATTERN.match(typology_id):
        problem(f"id {typology_id!r} must look like FAMILY-NN")
    family = str(raw["family"])
    if family not in FAMILIES:
        problem(f"family {family!r} not one of {FAMILIES}")
    elif not typology_id.startswith(family + "-"):
        problem(f"id {typology_id!r} does not start with its family {family!r}")
    status = raw["status"]
    if status not in get_args(Status):
        problem(f"status {status!r} not one of {get_args(Status)}")
    version = raw["version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        problem("version must be a positive integer")
    severity = raw["severity"]
    risk_score = raw["risk_score"]
    if severity not in SEVERITY_SCORE_RANGE:
        problem(f"severity {severity!r} not one of {list(SEVERITY_SCORE_RANGE)}")
    elif not isinstance(risk_score, int) or isinstance(risk_score, bool):
        problem("risk_score must be an integer 0-100")
    else:
        low, high = SEVERITY_SCORE_RANGE[severity]
        if not low <= risk_score <= high:
            problem(
                f"risk_score {risk_score} inconsistent with severity {severity!r} "
                f"(allowed {low}-{high})"
            )
    if raw["likely_role"] not in schema.ROLES:
        problem(f"likely_role {raw['likely_role']!r} not one of {schema.ROLES}")
    if raw["subject"] != "account":
        problem("subject must be 'account'")

    requires = _str_tuple(raw["requires"], "requires", problem)
    if bad := sorted(set(requires) - set(schema.COLUMNS_BY_NAME)):
        problem(f"requires unknown columns {bad}")
    references = _references(raw["references"], problem)
    params = _params(raw["params"], problem)
    falsepositives = _str_tuple(raw["falsepositives"], "falsepositives", problem)
    tags = _str_tuple(raw["tags"], "tags", problem)
    for key in ("title", "description", "runbook"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            problem(f"{key} must be non-empty text")

    sql_path = sql_root / f"{path.stem}.sql"
    if not sql_path.exists():
        problem(f"SQL file {sql_path} not found")
        return None
    sql = sql_path.read_text(encoding="utf-8")
    used = set(_SQL_PARAM.findall(_strip_sql_comments(sql)))
    declared = {p.name for p in params}
    if undeclared := sorted(used - declared):
        problem(f"SQL uses parameters not declared in params: {undeclared}")
    if unused := sorted(declared - used):
        problem(f"params declared but not used by the SQL: {unused}")
    if len(problems) > before:
        return None
    content_hash = hashlib.sha256(path.read_bytes() + b"\0" + sql.encode()).hexdigest()
    return Typology(
        id=typology_id,
        title=str(raw["title"]).strip(),
        status=status,
        version=int(version),
        family=family,
        description=str(raw["description"]).strip(),
        references=references,
        tags=tags,
        subject="account",
        requires=requires,
        params=params,
        severity=severity,
        risk_score=int(risk_score),
        likely_role=str(raw["likely_role"]),
        falsepositives=falsepositives,
        runbook=str(raw["runbook"]).strip(),
        bounds=str(raw["bounds"]).strip() if raw.get("bounds") else None,
        sql=sql,
        sql_path=sql_path,
        content_hash=content_hash,
    )


def _strip_sql_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def _str_tuple(value: Any, key: str, problem: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problem(f"{key} must be a list of strings")
        return ()
    return tuple(value)


def _references(value: Any, problem: Any) -> tuple[Reference, ...]:
    if not isinstance(value, list) or not value:
        problem("references must be a non-empty list")
        return ()
    refs = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or "document" not in item:
            problem(f"references[{i}] must be a mapping with at least 'document'")
            continue
        if unknown := sorted(set(item) - _REFERENCE_KEYS):
            problem(f"references[{i}] has unknown keys {unknown}")
        verified = item.get("verified", True)
        if not isinstance(verified, bool):
            problem(f"references[{i}].verified must be true or false")
        refs.append(
            Reference(
                document=str(item["document"]),
                indicator=str(item["indicator"]) if item.get("indicator") is not None else None,
                verified=bool(verified),
                notes=str(item["notes"]) if item.get("notes") else None,
            )
        )
    return tuple(refs)


def _params(value: Any, problem: Any) -> tuple[Param, ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        problem("params must be a mapping of name -> {default, description}")
        return ()
    params = []
    for name, spec in value.items():
        if not isinstance(spec, dict) or "default" not in spec or "description" not in spec:
            problem(f"params.{name} needs 'default' and 'description' (the reasoning)")
            continue
        if unknown := sorted(set(spec) - _PARAM_KEYS):
            problem(f"params.{name} has unknown keys {unknown}")
        default = spec["default"]
        if not isinstance(default, bool | int | float | str | list):
            problem(f"params.{name} default must be a number, text, boolean or list")
            continue
        params.append(Param(str(name), default, str(spec["description"]).strip()))
    return tuple(sorted(params, key=lambda p: p.name))


def family_of(typology_id: str) -> str:
    """The family of a well-formed typology id (``STR-01`` -> ``STR``).

    Raises:
        InputError: the id does not look like FAMILY-NN or names no known family.
    """
    if not _ID_PATTERN.match(typology_id):
        raise InputError(f"typology id {typology_id!r} must look like FAMILY-NN, e.g. LAB-08")
    family = typology_id.split("-", 1)[0]
    if family not in FAMILIES:
        raise InputError(f"typology id {typology_id!r}: family {family!r} not one of {FAMILIES}")
    return family


def resolve_params(
    typology: Typology, overrides: Mapping[str, ParamValue] | None
) -> dict[str, ParamValue]:
    """Defaults with the config's overrides applied; wrong names or types raise InputError."""
    values = typology.defaults()
    problems = []
    for name, value in (overrides or {}).items():
        if name not in values:
            problems.append(f"unknown parameter {name!r} (known: {sorted(values)})")
            continue
        default = values[name]
        if (
            isinstance(default, bool) != isinstance(value, bool)
            or (
                not isinstance(default, bool)
                and isinstance(default, int | float)
                and not isinstance(value, int | float)
            )
            or (isinstance(default, str | list) and not isinstance(value, type(default)))
        ):
            problems.append(f"parameter {name!r} must be {type(default).__name__}, got {value!r}")
            continue
        values[name] = (
            float(value) if isinstance(default, float) and isinstance(value, int | float) else value
        )
    if problems:
        raise InputError(f"typology {typology.id}: " + "; ".join(problems))
    return values


def check_overrides(catalog: Catalog, overrides: Mapping[str, Mapping[str, ParamValue]]) -> None:
    """Fail on config sections naming typologies the catalog does not have."""
    if unknown := sorted(set(overrides) - set(catalog.ids())):
        raise InputError(f"config sets parameters of unknown typologies {unknown}")


def families(typologies: Iterable[Typology]) -> tuple[str, ...]:
    return tuple(sorted({t.family for t in typologies}))
