"""Run configuration: defaults, the optional TOML file and command-line overrides.

Everything a run depends on is in one frozen ``RunConfig`` so the manifest can
record it and two runs with equal configs give equal outputs.
"""

from __future__ import annotations

import textwrap
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, TypeVar, get_type_hints

from engine.errors import InputError

ParamValue = bool | int | float | str | list[Any]


@dataclass(frozen=True)
class ScoringConfig:
    """Weights of the risk score and the alert policy (README, "How alerts are ranked").

    Attributes:
        victim_weight: factor applied to hits whose likely role is ``victim`` so that a
            victim never outranks the accounts that control it.
        min_alert_score: alerts whose risk score (0-100) is below this are dropped.
        anomaly_weight: how much of the score the detector ensemble can add (0: rules only).
        anomaly_floor: anomaly scores at or below this add nothing to the evidence that
            opens alerts and propagates (0.9: only the top 10% of a peer group count).
        anomaly_rank_floor: in the ranking (``risk_score``, ``rank``), anomaly scores above
            this add to an account's score in proportion, up to ``anomaly_weight`` at the
            top. 0.5, the median of the percentile ranks the score is the mean of: an
            account more unusual than most of its peers moves up the queue, one more
            ordinary than most is not raised, and the accounts below the alerts are
            ordered by their detectors rather than left at zero and ordered by id. It
            opens nothing (``anomaly_floor`` and the ANOMALY hit decide that).
        recency_half_life_days: a hit's weight in the ranking halves every so many days of
            age (0: no recency weighting).
        alert_threshold: an account becomes an alert when its opening score (the noisy-OR
            over its families of their strongest hit's risk score, victim hits times
            ``victim_weight``) reaches this. 40 is the lowest risk score of a medium
            typology: every medium or high hit opens an alert, no single low one does (low
            typologies score 20-35), two low typologies of different families do
            (1 - 0.75 x 0.75 = 0.44 for two at 25), and a single victim-side hit, at most
            35 x 0.5, never does.
        anomaly_alone_opens: whether an ANOMALY hit with no rule hit beside it counts
            towards opening. False: the detectors flag a fixed share of every bank's
            accounts (``contamination``) whether or not anything is wrong, and "unusual in
            its peer group" gives an analyst no hypothesis to check. Beside a non-victim
            rule hit the anomaly always counts, its part above ``anomaly_floor`` whether or
            not it reached the ANOMALY hit: the rule hit is the hypothesis, the anomaly
            corroborates it. It always raises the score. A scan without typologies (detectors
            only) lets it open regardless, the anomaly being its only evidence.
        propagation_hops: how far risk travels along money flows from accounts whose own
            evidence opens an alert: 0 (off), 1 or 2. Two reach a controller's mules'
            counterparties; further, a network's score would spread over ordinary payees.
        propagation_decay: factor per hop (0.5: a direct counterparty gets at most half the
            source's score, two hops a quarter), times the share of the receiving
            account's money that flowed with the sender.
        propagation_max_counterparties: accounts with more distinct counterparties than
            this over the scan (merchants, employers, billers, payment processors) pass no
            risk on; the accounts around them share only a service. A person's or small
            business's circle of payers and payees rarely reaches a hundred.
        link_share: an account with victim-side indicators links to the counterparty that
            took at least this share of all it sent, or supplied this share of all it
            received (0.5: most of its money, the plain reading of FINTRAC's "deposit then
            quick transfer to a third party" and of a controller keeping a victim's
            earnings); that counterparty earns a LINK hit of role controller.
        link_score: what the tie itself weighs in that LINK hit, beside the victim's
            evidence at full weight: 25, a low indicator (a tie alone is ordinary: families
            share money), so that a victim-side indicator and a dominant tie together open
            an alert on the account that takes the money (the sources' "combine weak
            signals"), and either alone does not. The same weight goes to a recipient's
            tie beside its propagation term (most of what the account received came from
            an account whose own evidence opens an alert, and the export shows it dealing
            with someone else too: its income is that account's money).
        link_pass_on_typologies: victim-side typologies whose evidence is the pass-on
            itself (LAB-02: a wage passed on at once; CTRL-03: an account kept depleted);
            the tie would count that one fact twice, so they link nothing. LAB-02 names its
            own controller side (one third party taking several workers' wages).
        link_structure_families: families whose typologies find a money-flow structure
            among accounts (GRAPH: fan-in, fan-out, gather-scatter, scatter-gather,
            cycles, chains, bipartite blocks, stacks) or money passing through an account
            (FLOW: pass-through, a dormant or new account suddenly moving money, round-sum
            transfers out: the mule-account indicators of FINTRAC and FATF's layering); the
            evidence of such a hit is the structure or the passage, and its other accounts
            whose money it carries for the most part (link_share of all they moved) earn a
            LINK hit as participants.
        link_block_typologies: structural typologies whose rule binds every account of the
            structure, not only its subject: GRAPH-07 (each payee is paid by most of the
            payers of a dense block), GRAPH-08 (each account of a stack's layers sits in a
            dense block on both sides or passes the money on) and GRAPH-04 (each
            intermediary passes a share of the source's payment on to the sink). Their
            accounts are participants whatever share of their money the structure
            carries: being in it is the rule's own condition, not a coincidence of one
            payment. A fan-in's or fan-out's spokes (GRAPH-01 to GRAPH-03), a chain's side
            accounts and a pass-through's counterparties are not bound this way and keep
            the link_share condition.
    """

    victim_weight: float = 0.5
    min_alert_score: float = 0.0
    anomaly_weight: float = 0.5
    anomaly_floor: float = 0.9
    anomaly_rank_floor: float = 0.5
    recency_half_life_days: float = 180.0
    alert_threshold: float = 40.0
    anomaly_alone_opens: bool = False
    propagation_hops: int = 2
    propagation_decay: float = 0.5
    propagation_max_counterparties: int = 100
    link_share: float = 0.5
    link_score: float = 25.0
    link_pass_on_typologies: tuple[str, ...] = ("LAB-02", "CTRL-03")
    link_structure_families: tuple[str, ...] = ("GRAPH", "FLOW")
    link_block_typologies: tuple[str, ...] = ("GRAPH-04", "GRAPH-07", "GRAPH-08")


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


def setting(doc: str, key: str | None = "") -> dict[str, str | None]:
    """The metadata declaring one ``RunConfig`` field: what it means and its config-file key.

    Args:
        doc: one line for the docs (``RunConfig``'s docstring lists them).
        key: key in the config file; ``""`` is the field's own name, ``None`` keeps the
            field out of the file (set on the command line only).
    """
    return {"doc": doc, "key": key}


def _empty_params() -> Mapping[str, Mapping[str, ParamValue]]:
    return MappingProxyType({})


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides what a scan computes.

    Each field is declared once: its type, its default and, through ``setting``, its
    meaning and its key in the config file. Parsing (``config_from_mapping``), the
    manifest record (``to_record``) and the attribute list below derive from them.
    """

    reporting_currency: str = field(
        default="USD",
        metadata=setting("currency all amounts are compared in (through the FX table)"),
    )
    as_of: date | None = field(
        default=None,
        metadata=setting("reference date for the future-timestamp check; None means today (UTC)"),
    )
    future_tolerance_days: int = field(
        default=1, metadata=setting("rows later than as_of plus this many days are rejected")
    )
    reference_dir: Path | None = field(
        default=None,
        metadata=setting("folder overriding the shipped reference tables (same file names)"),
    )
    fx_rates_file: Path | None = field(
        default=None,
        metadata=setting("CSV currency,units_per_usd overriding the shipped FX table"),
    )
    typology_ids: tuple[str, ...] = field(
        default=(),
        metadata=setting(
            "subset of typologies to run (--typology); empty means all non-deprecated ones",
            key=None,
        ),
    )
    rules_enabled: bool = field(
        default=True, metadata=setting("run the typology rules (false: detectors only)")
    )
    typology_params: Mapping[str, Mapping[str, ParamValue]] = field(
        default_factory=_empty_params,
        metadata=setting("per-typology parameter overrides, one table per id", key="typologies"),
    )
    memory_limit: str | None = field(
        default=None,
        metadata=setting(
            'memory limit of the whole process such as "8GB" (README, "Memory"); None gives '
            "DuckDB half the physical memory and the rest of the process comes on top"
        ),
    )
    threads: int | None = field(
        default=None, metadata=setting("DuckDB worker threads; None uses every core")
    )
    gx_sample_rows: int = field(
        default=200_000,
        metadata=setting(
            "at most this many rows of the scan go through the Great Expectations suite, "
            "shared out over the input files by their rows, at least one each (exact SQL "
            "checks always cover every row)"
        ),
    )
    scoring: ScoringConfig = field(
        default=ScoringConfig(), metadata=setting("alert ranking weights ([scoring])")
    )
    detectors: DetectorConfig = field(
        default=DetectorConfig(),
        metadata=setting("the PyOD detectors ([detectors], [detectors.params.<NAME>])"),
    )

    def with_overrides(self, **changes: Any) -> RunConfig:
        """Return a copy with the given fields replaced (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready view of the configuration for the manifest: every field, dates as
        ISO text, paths as text, tuples as lists, mappings sorted by key."""
        return {f.name: _record(getattr(self, f.name)) for f in fields(self)}


def config_keys() -> dict[str, str]:
    """Config-file key -> ``RunConfig`` field name, for every field the file can set."""
    return {
        (f.metadata["key"] or f.name): f.name
        for f in fields(RunConfig)
        if f.metadata["key"] is not None
    }


def _attribute_docs() -> str:
    lines = ["", "    Attributes:"]
    for f in fields(RunConfig):
        key = f.metadata["key"]
        where = "" if key == "" else " (command line only)" if key is None else f" (``{key}``)"
        text = f"{f.name}: {f.metadata['doc']}{where}."
        lines += textwrap.wrap(text, width=88, initial_indent=" " * 8, subsequent_indent=" " * 12)
    return "\n".join(lines) + "\n"


RunConfig.__doc__ = (RunConfig.__doc__ or "") + _attribute_docs()


def _record(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_record(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _record(v) for k, v in sorted(value.items())}
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _record(getattr(value, f.name)) for f in fields(value)}
    raise TypeError(f"cannot record config value {value!r}")


OTHER_TABLES: Final = frozenset({"goaml"})
"""Tables a config file may hold for other commands: ``[goaml]`` is the goAML export
header, read by ``iff export goaml`` (engine/goaml.py), so one file serves both."""


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
    """Build a ``RunConfig`` from parsed TOML, collecting every problem before failing.

    Each key is read as its field's declared type says (``_PARSERS``).
    """
    problems: list[str] = []
    keys = config_keys()
    if unknown := sorted(set(raw) - set(keys) - OTHER_TABLES):
        problems.append(f"unknown keys {unknown}; allowed: {sorted(keys)}")
    types = get_type_hints(RunConfig)
    values: dict[str, Any] = {}
    for key, name in keys.items():
        if key in raw and raw[key] is not None:
            parse = _PARSERS[name] if name in _PARSERS else _PARSERS[types[name]]
            values[name] = parse(key, raw[key], problems, base_dir)
    if problems:
        raise InputError("; ".join(problems), source)
    return RunConfig(**values)


_Parser = Callable[[str, Any, list[str], Path | None], Any]


def _typed(kind: type, label: str, convert: Callable[[Any], Any] = lambda v: v) -> _Parser:
    def parse(key: str, value: Any, problems: list[str], base_dir: Path | None) -> Any:
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            problems.append(f"{key} must be {label}, got {type(value).__name__}")
            return None
        return convert(value)

    return parse


def _date(key: str, value: Any, problems: list[str], base_dir: Path | None) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    problems.append(f"{key} must be a date YYYY-MM-DD, got {value!r}")
    return None


def _path(key: str, value: Any, problems: list[str], base_dir: Path | None) -> Path | None:
    if not isinstance(value, str):
        problems.append(f"{key} must be a path, got {type(value).__name__}")
        return None
    path = Path(value)
    return path if path.is_absolute() or base_dir is None else base_dir / path


def _currency(key: str, value: Any, problems: list[str], base_dir: Path | None) -> str | None:
    code = _typed(str, "a currency code")(key, value, problems, base_dir)
    return code.upper() if code else RunConfig.reporting_currency


def _typology_params(
    key: str, value: Any, problems: list[str], base_dir: Path | None
) -> Mapping[str, Mapping[str, ParamValue]]:
    if not isinstance(value, dict):
        problems.append(f"[{key}] must be a table of tables, e.g. [{key}.STR-01]")
        return _empty_params()
    params: dict[str, Mapping[str, ParamValue]] = {}
    for typology_id, values in sorted(value.items()):
        if not isinstance(values, dict):
            problems.append(f"[{key}.{typology_id}] must be a table of parameters")
            continue
        params[typology_id] = MappingProxyType(dict(values))
    return MappingProxyType(params)


def _scoring(key: str, value: Any, problems: list[str], base_dir: Path | None) -> ScoringConfig:
    scoring = _section({key: value}, key, ScoringConfig(), problems)
    if scoring.propagation_hops not in (0, 1, 2):
        problems.append(f"{key}.propagation_hops must be 0, 1 or 2")
    if not 0 <= scoring.propagation_decay <= 1:
        problems.append(f"{key}.propagation_decay must be between 0 and 1")
    for name in ("anomaly_floor", "anomaly_rank_floor"):
        if not 0 <= getattr(scoring, name) < 1:
            problems.append(f"{key}.{name} must be at least 0 and below 1")
    return scoring


KNOWN_DETECTORS: Final = ("HBOS", "IForest", "ECOD", "COPOD")


def _detectors(key: str, value: Any, problems: list[str], base_dir: Path | None) -> DetectorConfig:
    table = dict(value) if isinstance(value, dict) else value
    detector_params = table.pop("params", {}) if isinstance(table, dict) else {}
    detectors = _section({key: table}, key, DetectorConfig(), problems)
    if unknown := sorted(set(detectors.names) - set(KNOWN_DETECTORS)):
        problems.append(f"unknown detectors {unknown}; known: {list(KNOWN_DETECTORS)}")
    if not isinstance(detector_params, dict) or not all(
        isinstance(v, dict) for v in detector_params.values()
    ):
        problems.append(f"[{key}.params.<NAME>] must be tables of keyword arguments")
        return detectors
    return replace(
        detectors,
        params=MappingProxyType(
            {k: MappingProxyType(dict(v)) for k, v in sorted(detector_params.items())}
        ),
    )


_PARSERS: Final[Mapping[Any, _Parser]] = {
    # by field name, where the type alone does not say how
    "reporting_currency": _currency,
    "typology_params": _typology_params,
    "scoring": _scoring,
    "detectors": _detectors,
    # by declared type
    str | None: _typed(str, "a string"),
    int: _typed(int, "an integer"),
    int | None: _typed(int, "an integer"),
    bool: _typed(bool, "true or false"),
    date | None: _date,
    Path | None: _path,
}


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
