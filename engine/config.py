"""Run configuration: defaults, the optional TOML file and command-line overrides.

Everything a run depends on is in one frozen ``RunConfig`` so the manifest can
record it and two runs with equal configs give equal outputs.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from engine.errors import InputError

ParamValue = bool | int | float | str | list[Any]


@dataclass(frozen=True)
class ScoringConfig:
    """Weights of the alert score (README, "How alerts are ranked").

    Attributes:
        victim_weight: factor applied to hits whose likely role is ``victim`` so that a
            victim never outranks the accounts that control it.
        min_alert_score: alerts below this score (0-100) are dropped.
    """

    victim_weight: float = 0.5
    min_alert_score: float = 0.0
    anomaly_weight: float = 0.5
    anomaly_floor: float = 0.9
    recency_half_life_days: float = 180.0


@dataclass(frozen=True)
class DetectorConfig:
    """The unsupervised half (README, "Anomaly detection").

    Attributes:
        enabled: run the PyOD detectors at all.
        names: PyOD detectors of the ensemble (HBOS, IForest, ECOD, COPOD).
        contamination: share of accounts (most anomalous first) that get an ANOMALY hit.
        min_group_size: peer groups smaller than this are pooled together.
        random_state: seed of the randomised detectors.
        params: keyword arguments per detector, e.g. ``{"IForest": {"n_estimators": 200}}``
            (``[detectors.params.IForest]`` in the config file).
    """

    enabled: bool = True
    names: tuple[str, ...] = ("HBOS", "IForest", "ECOD")
    params: Mapping[str, Mapping[str, ParamValue]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    contamination: float = 0.005
    min_group_size: int = 500
    random_state: int = 42


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides what a scan computes.

    Attributes:
        reporting_currency: currency all amounts are compared in (through the FX table).
        as_of: reference date for the future-timestamp check; ``None`` means today (UTC).
        future_tolerance_days: rows later than ``as_of`` plus this many days are rejected.
        reference_dir: folder overriding the shipped reference tables (same file names).
        fx_rates_file: CSV ``currency,units_per_usd`` overriding the shipped FX table.
        typology_ids: subset of typologies to run; empty means all non-deprecated ones.
        typology_params: per-typology parameter overrides.
        memory_limit: DuckDB memory limit such as ``"8GB"``; ``None`` lets DuckDB choose.
        threads: DuckDB worker threads; ``None`` uses every core.
        gx_sample_rows: at most this many rows per input file go through the Great
            Expectations suite (exact SQL checks always cover every row).
        scoring: alert ranking weights.
    """

    reporting_currency: str = "USD"
    as_of: date | None = None
    future_tolerance_days: int = 1
    reference_dir: Path | None = None
    fx_rates_file: Path | None = None
    typology_ids: tuple[str, ...] = ()
    rules_enabled: bool = True
    typology_params: Mapping[str, Mapping[str, ParamValue]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    memory_limit: str | None = None
    threads: int | None = None
    gx_sample_rows: int = 200_000
    scoring: ScoringConfig = ScoringConfig()
    detectors: DetectorConfig = DetectorConfig()

    def with_overrides(self, **changes: Any) -> RunConfig:
        """Return a copy with the given fields replaced (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready view of the configuration for the manifest."""
        return {
            "reporting_currency": self.reporting_currency,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "future_tolerance_days": self.future_tolerance_days,
            "reference_dir": str(self.reference_dir) if self.reference_dir else None,
            "fx_rates_file": str(self.fx_rates_file) if self.fx_rates_file else None,
            "typology_ids": list(self.typology_ids),
            "rules_enabled": self.rules_enabled,
            "typology_params": {k: dict(v) for k, v in sorted(self.typology_params.items())},
            "memory_limit": self.memory_limit,
            "threads": self.threads,
            "gx_sample_rows": self.gx_sample_rows,
            "scoring": asdict(self.scoring),
            "detectors": {
                "enabled": self.detectors.enabled,
                "names": list(self.detectors.names),
                "contamination": self.detectors.contamination,
                "min_group_size": self.detectors.min_group_size,
                "random_state": self.detectors.random_state,
                "params": {k: dict(v) for k, v in self.detectors.params.items()},
            },
        }


_TOP_KEYS = {
    "reporting_currency",
    "as_of",
    "future_tolerance_days",
    "reference_dir",
    "fx_rates_file",
    "memory_limit",
    "threads",
    "gx_sample_rows",
    "typologies",
    "rules_enabled",
    "scoring",
    "detectors",
    "goaml",  # goAML export header, read by `iff export goaml` (engine/goaml.py)
}


def load_config(path: Path | None) -> RunConfig:
    """Read a TOML config file; ``None`` gives the defaults.

    Example file::

        reporting_currency = "EUR"
        memory_limit = "8GB"
        [typologies.STR-01]
        min_count = 3
        [scoring]
        victim_weight = 0.4

    Raises:
        InputError: unreadable file, bad TOML, unknown keys or values of the wrong type.
    """
    if path is None:
        return RunConfig()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read config file ({exc.strerror})", str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"config file is not valid TOML ({exc})", str(path)) from exc
    return config_from_mapping(raw, source=str(path), base_dir=path.parent)


def config_from_mapping(
    raw: Mapping[str, Any], source: str = "config", base_dir: Path | None = None
) -> RunConfig:
    """Build a ``RunConfig`` from parsed TOML, collecting every problem before failing."""
    problems: list[str] = []
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        problems.append(f"unknown keys {unknown}; allowed: {sorted(_TOP_KEYS)}")

    def get(key: str, kind: type | tuple[type, ...]) -> Any:
        value = raw.get(key)
        if value is not None and not isinstance(value, kind):
            problems.append(f"{key} must be {kind}, got {type(value).__name__}")
            return None
        return value

    def as_path(value: str | None) -> Path | None:
        if value is None:
            return None
        p = Path(value)
        return p if p.is_absolute() or base_dir is None else base_dir / p

    as_of = raw.get("as_of")
    if isinstance(as_of, str):
        try:
            as_of = date.fromisoformat(as_of)
        except ValueError:
            problems.append(f"as_of must be a date YYYY-MM-DD, got {as_of!r}")
            as_of = None
    elif as_of is not None and not isinstance(as_of, date):
        problems.append("as_of must be a date YYYY-MM-DD")
        as_of = None

    scoring = _section(raw, "scoring", ScoringConfig(), problems)
    detector_table = (
        dict(raw.get("detectors", {})) if isinstance(raw.get("detectors"), dict) else {}
    )
    detector_params = detector_table.pop("params", {})
    detectors = _section({"detectors": detector_table}, "detectors", DetectorConfig(), problems)
    known_detectors = ("HBOS", "IForest", "ECOD", "COPOD")
    if unknown_detectors := sorted(set(detectors.names) - set(known_detectors)):
        problems.append(f"unknown detectors {unknown_detectors}; known: {list(known_detectors)}")
    if not isinstance(detector_params, dict) or not all(
        isinstance(v, dict) for v in detector_params.values()
    ):
        problems.append("[detectors.params.<NAME>] must be tables of keyword arguments")
    else:
        detectors = replace(
            detectors,
            params=MappingProxyType(
                {k: MappingProxyType(dict(v)) for k, v in sorted(detector_params.items())}
            ),
        )

    typologies_raw = raw.get("typologies", {})
    params: dict[str, Mapping[str, ParamValue]] = {}
    if not isinstance(typologies_raw, dict):
        problems.append("[typologies] must be a table of tables, e.g. [typologies.STR-01]")
    else:
        for typology_id, values in sorted(typologies_raw.items()):
            if not isinstance(values, dict):
                problems.append(f"[typologies.{typology_id}] must be a table of parameters")
                continue
            params[typology_id] = MappingProxyType(dict(values))

    config = RunConfig(
        reporting_currency=str(get("reporting_currency", str) or "USD").upper(),
        as_of=as_of,
        future_tolerance_days=get("future_tolerance_days", int) or 1,
        reference_dir=as_path(get("reference_dir", str)),
        fx_rates_file=as_path(get("fx_rates_file", str)),
        typology_params=MappingProxyType(params),
        rules_enabled=bool(get("rules_enabled", bool) if "rules_enabled" in raw else True),
        memory_limit=get("memory_limit", str),
        threads=get("threads", int),
        gx_sample_rows=get("gx_sample_rows", int) or RunConfig.gx_sample_rows,
        scoring=scoring,
        detectors=detectors,
    )
    if problems:
        raise InputError("; ".join(problems), source)
    return config


_Section = TypeVar("_Section", ScoringConfig, DetectorConfig)


def _section(raw: Mapping[str, Any], name: str, default: _Section, problems: list[str]) -> _Section:
    """Read one ``[name]`` table into a copy of ``default``, checking keys and types."""
    table = raw.get(name, {})
    if not isinstance(table, dict):
        problems.append(f"[{name}] must be a table")
        return default
    allowed = {f.name: getattr(default, f.name) for f in fields(default)}
    if unknown := sorted(set(table) - set(allowed)):
        problems.append(f"unknown [{name}] keys {unknown}; allowed: {sorted(allowed)}")
        return default
    values: dict[str, Any] = {}
    for key, value in table.items():
        expected = allowed[key]
        if isinstance(expected, bool):
            ok = isinstance(value, bool)
        elif isinstance(expected, int | float):
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            value = type(expected)(value) if ok else value
        elif isinstance(expected, tuple):
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
            value = tuple(value) if ok else value
        else:
            ok = isinstance(value, type(expected))
        if not ok:
            problems.append(f"{name}.{key} must be like {expected!r}, got {value!r}")
        values[key] = value
    return replace(default, **values)
