"""goAML export: one suspicious transaction report (STR) XML file per alert.

The header comes from the ``[goaml]`` table of a TOML file (README, "goAML export"); the
transactions are the alert's evidence read back from the run's inputs; ``reason`` is the
narrative draft of :mod:`engine.narrative`; ``report_indicators`` map the alert's
typologies through ``goaml_indicators.csv``; channels map to transmode and funds codes
through ``goaml_transmodes.csv``. Both mappings ship under ``fixtures/reference/`` and
can be replaced from the config. Every file is checked against the shipped XSD subset
(``fixtures/reference/goaml/goaml_str_5.0_subset.xsd``) before it is written, and the
bytes depend only on the run and the config (no clock).

An account is the reporting institution's own client (``t_from_my_client`` /
``t_to_my_client``) when the run had an accounts file and the account is in it with no
``bank`` or with ``bank`` equal to the config's ``bank_id`` (default: ``rentity_id``);
without an accounts file, when the transaction's ``src_bank`` / ``dst_bank`` equals
``bank_id``. Cash is never a client: the cash side of a deposit or withdrawal is an
entity named for it, since exports do not record who carried the cash.
"""

from __future__ import annotations

import csv
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from engine.errors import InputError
from engine.resources import reference_dir
from engine.schema import CASH_ACCOUNT, CHANNELS

if TYPE_CHECKING:
    import polars as pl
    from lxml import etree

    from engine.api import Run

XSD_RELATIVE: Final = "goaml/goaml_str_5.0_subset.xsd"
INDICATORS_FILE: Final = "goaml_indicators.csv"
TRANSMODES_FILE: Final = "goaml_transmodes.csv"
REASON_MAX: Final = 4000
"""Characters goAML allows in ``reason`` (the draft is shortened to fit)."""
DEFAULT_ACTION: Final = (
    "Alert raised by automated transaction monitoring (iff-engine); under review by the "
    "reporting entity. No action taken on the accounts at the time of this draft."
)
CASH_ENTITY: Final = "Cash (the person who carried it is not recorded in the export)"
UNKNOWN_INSTITUTION: Final = "not recorded in the export"

_MANDATORY: Final = ("rentity_id", "submission_code", "report_code", "currency_code_local")
_OPTIONAL: Final = (
    "rentity_branch",
    "action",
    "indicators",
    "transmodes",
    "institution_name",
    "bank_id",
    "default_country",
    "submission_date",
)
_PERSON_MANDATORY: Final = ("first_name", "last_name")
# in the order goAML's person type lists them
_PERSON_FIELDS: Final = (
    "gender",
    "title",
    "first_name",
    "middle_name",
    "prefix",
    "last_name",
    "ssn",
    "id_number",
    "nationality1",
    "phone",
    "email",
    "occupation",
)
_PHONE_FIELDS: Final = (
    "tph_contact_type",
    "tph_communication_type",
    "tph_country_prefix",
    "tph_number",
)
_LOCATION_FIELDS: Final = (
    "address_type",
    "address",
    "town",
    "city",
    "zip",
    "country_code",
    "state",
)
_LOCATION_MANDATORY: Final = ("address_type", "address", "city", "country_code")


@dataclass(frozen=True)
class GoamlConfig:
    """The ``[goaml]`` table: keys are the goAML element names they fill.

    Attributes:
        rentity_id: the reporting entity's goAML id (an integer of at least 1).
        submission_code: ``E`` (electronic) or ``M`` (manual).
        report_code: report type, e.g. ``STR``.
        currency_code_local: currency of ``amount_local``.
        reporting_person: ``[goaml.reporting_person]`` (first_name and last_name required;
            gender, title, middle_name, prefix, ssn, id_number, nationality1, email,
            occupation and a ``[goaml.reporting_person.phone]`` table optional).
        rentity_branch: optional branch.
        location: optional ``[goaml.location]`` (address_type, address, city,
            country_code; town, zip, state optional).
        action: text of ``action``.
        indicators: CSV ``typology_id,indicator_code,note`` replacing the shipped one.
        transmodes: CSV ``channel,transmode_code,funds_code,note`` replacing the shipped one.
        institution_name: name of the reporting institution on its own accounts.
        bank_id: institution id that marks the reporting institution's accounts in the
            data (default: ``rentity_id``).
        default_country: country for transaction sides whose country the data lacks
            (default: the location's country_code).
        submission_date: ``YYYY-MM-DD`` overriding the run's reference date.
    """

    rentity_id: int
    submission_code: str
    report_code: str
    currency_code_local: str
    reporting_person: Mapping[str, Any]
    rentity_branch: str | None = None
    location: Mapping[str, str] | None = None
    action: str = DEFAULT_ACTION
    indicators: Path | None = None
    transmodes: Path | None = None
    institution_name: str | None = None
    bank_id: str | None = None
    default_country: str | None = None
    submission_date: str | None = None
    source: str = field(default="config", compare=False)

    @property
    def own_bank(self) -> str:
        return self.bank_id or str(self.rentity_id)


def load_goaml_config(path: Path | None) -> GoamlConfig:
    """Read the ``[goaml]`` table of a TOML file (the same file ``iff scan --config`` reads).

    Raises:
        InputError: unreadable file, or a table lacking mandatory fields (all listed at once)
            or holding unknown keys or bad values.
    """
    raw: dict[str, Any] = {}
    where = str(path) if path is not None else "goAML config"
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(f"cannot read config file ({exc.strerror})", where) from exc
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"config file is not valid TOML ({exc})", where) from exc
    table = raw.get("goaml", {})
    if not isinstance(table, dict):
        raise InputError("[goaml] must be a table", where)
    return goaml_config_from_mapping(table, where, path.parent if path is not None else None)


def goaml_config_from_mapping(
    table: Mapping[str, Any], source: str = "goAML config", base_dir: Path | None = None
) -> GoamlConfig:
    """Build a :class:`GoamlConfig` from a parsed ``[goaml]`` table, listing every problem."""
    missing: list[str] = []
    problems: list[str] = []
    person = table.get("reporting_person", {})
    location = table.get("location")
    if unknown := sorted(
        set(table) - set(_MANDATORY) - set(_OPTIONAL) - {"reporting_person", "location"}
    ):
        problems.append(f"unknown [goaml] keys {unknown}")
    missing += [f"[goaml] {k}" for k in _MANDATORY if _blank(table.get(k))]
    if not isinstance(person, dict):
        problems.append("[goaml.reporting_person] must be a table")
        person = {}
    missing += [f"[goaml.reporting_person] {k}" for k in _PERSON_MANDATORY if _blank(person.get(k))]
    if unknown := sorted(set(person) - set(_PERSON_FIELDS)):
        problems.append(f"unknown [goaml.reporting_person] keys {unknown}")
    phone = person.get("phone")
    if phone is not None:
        if not isinstance(phone, dict):
            problems.append("[goaml.reporting_person.phone] must be a table")
        else:
            missing += [
                f"[goaml.reporting_person.phone] {k}"
                for k in ("tph_contact_type", "tph_communication_type", "tph_number")
                if _blank(phone.get(k))
            ]
            if unknown := sorted(set(phone) - set(_PHONE_FIELDS)):
                problems.append(f"unknown [goaml.reporting_person.phone] keys {unknown}")
    if location is not None:
        if not isinstance(location, dict):
            problems.append("[goaml.location] must be a table")
            location = None
        else:
            missing += [
                f"[goaml.location] {k}" for k in _LOCATION_MANDATORY if _blank(location.get(k))
            ]
            if unknown := sorted(set(location) - set(_LOCATION_FIELDS)):
                problems.append(f"unknown [goaml.location] keys {unknown}")
    rentity_id = 0
    if not _blank(table.get("rentity_id")):
        try:
            rentity_id = int(str(table["rentity_id"]))
            if rentity_id < 1:
                raise ValueError
        except ValueError:
            problems.append(
                f"[goaml] rentity_id must be an integer of at least 1, got {table['rentity_id']!r}"
            )
    submission_code = str(table.get("submission_code", "")).upper()
    if submission_code and submission_code not in ("E", "M"):
        problems.append(f"[goaml] submission_code must be E or M, got {submission_code!r}")
    currency = str(table.get("currency_code_local", "")).upper()
    if currency and not (len(currency) == 3 and currency.isalpha()):
        problems.append(f"[goaml] currency_code_local must be a 3-letter code, got {currency!r}")
    submission_date = table.get("submission_date")
    if submission_date is not None:
        try:
            datetime.fromisoformat(str(submission_date))
        except ValueError:
            problems.append(f"[goaml] submission_date must be YYYY-MM-DD, got {submission_date!r}")
    if missing:
        problems.insert(0, "missing mandatory goAML fields: " + ", ".join(missing))
    if problems:
        raise InputError("; ".join(problems), source)

    def as_path(key: str) -> Path | None:
        value = table.get(key)
        if value is None:
            return None
        p = Path(str(value))
        return p if p.is_absolute() or base_dir is None else base_dir / p

    def text(key: str) -> str | None:
        value = table.get(key)
        return None if _blank(value) else str(value)

    default_country = text("default_country")
    if default_country is None and location is not None:
        default_country = str(location["country_code"])
    return GoamlConfig(
        rentity_id=rentity_id,
        submission_code=submission_code,
        report_code=str(table["report_code"]),
        currency_code_local=currency,
        reporting_person=MappingProxyType(dict(person)),
        rentity_branch=text("rentity_branch"),
        location=MappingProxyType(
            {k: str(v).upper() if k == "country_code" else str(v) for k, v in location.items()}
        )
        if location
        else None,
        action=text("action") or DEFAULT_ACTION,
        indicators=as_path("indicators"),
        transmodes=as_path("transmodes"),
        institution_name=text("institution_name"),
        bank_id=text("bank_id"),
        default_country=default_country.upper() if default_country else None,
        submission_date=None if submission_date is None else str(submission_date),
        source=source,
    )


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# --------------------------------------------------------------------------- mappings


def load_indicators(path: Path | None = None) -> dict[str, tuple[str, ...]]:
    """Typology id -> indicator codes (a typology may have several rows)."""
    rows = _read_csv(path or reference_dir() / INDICATORS_FILE, ("typology_id", "indicator_code"))
    mapping: dict[str, list[str]] = {}
    for row in rows:
        mapping.setdefault(row["typology_id"].strip(), []).append(row["indicator_code"].strip())
    return {k: tuple(dict.fromkeys(v)) for k, v in mapping.items()}


def load_transmodes(path: Path | None = None) -> dict[str, tuple[str, str]]:
    """Channel -> (transmode_code, funds_code); every canonical channel must be present."""
    where = path or reference_dir() / TRANSMODES_FILE
    rows = _read_csv(where, ("channel", "transmode_code", "funds_code"))
    mapping = {
        r["channel"].strip().lower(): (r["transmode_code"].strip(), r["funds_code"].strip())
        for r in rows
    }
    if missing := [c for c in CHANNELS if c not in mapping]:
        raise InputError(f"goAML transmode mapping lacks channels {missing}", str(where))
    return mapping


def _read_csv(path: Path, columns: Sequence[str]) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            if missing := [c for c in columns if c not in (reader.fieldnames or [])]:
                raise InputError(f"CSV lacks columns {missing}", str(path))
            rows = [dict(r) for r in reader]
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror})", str(path)) from exc
    if bad := [i + 2 for i, r in enumerate(rows) if any(_blank(r.get(c)) for c in columns)]:
        raise InputError(f"empty values on lines {bad}", str(path))
    return rows


# --------------------------------------------------------------------------- export


def select_alerts(
    run: Run, alert_ids: Sequence[str], top: int | None
) -> tuple[list[str], list[str]]:
    """The alerts to export and those left out.

    With ids, every one is checked and exported. With ``top``, the ``top`` ranked alerts
    are taken and those citing no evidence transaction (alerts of the anomaly detectors
    alone) are left out, since a goAML report needs at least one transaction.
    """
    if alert_ids:
        for alert_id in alert_ids:
            run.alert(alert_id)
        return list(dict.fromkeys(alert_ids)), []
    if top is None or top < 1:
        raise InputError("give --alert ID (repeatable) or --top N with N of at least 1")
    ranked = run.alerts.sort("rank").head(top).select("alert_id", "evidence_count").collect()
    chosen = [a for a, n in ranked.iter_rows() if n > 0]
    skipped = [a for a, n in ranked.iter_rows() if n == 0]
    return chosen, skipped


def export_goaml(
    run: Run, alert_ids: Sequence[str], out_dir: Path, config: GoamlConfig
) -> list[Path]:
    """Write ``<alert_id>.xml`` for each alert into ``out_dir``; returns the paths.

    Raises:
        InputError: unknown alert, unreadable inputs or mappings, a transaction without a
            country and no ``default_country``, no FX rate to ``currency_code_local``.
        InputError: also when a file would not validate against the shipped XSD (a
            ``[goaml]`` value too long or of the wrong form).
    """
    from lxml import etree

    indicators = load_indicators(config.indicators)
    transmodes = load_transmodes(config.transmodes)
    schema = load_schema()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for alert_id in alert_ids:
        report = build_report(run, alert_id, config, indicators, transmodes)
        problems = validation_errors(report, schema)
        if problems:
            # most often a [goaml] value too long or of the wrong form
            raise InputError(
                f"the goAML report of alert {alert_id} does not validate against "
                f"{XSD_RELATIVE}: " + "; ".join(problems),
                config.source,
            )
        path = out_dir / f"{alert_id}.xml"
        path.write_bytes(
            etree.tostring(report, xml_declaration=True, encoding="UTF-8", pretty_print=True)
        )
        written.append(path)
    return written


def load_schema() -> etree.XMLSchema:
    """The shipped XSD subset as an lxml schema."""
    from lxml import etree

    return etree.XMLSchema(etree.parse(str(reference_dir() / XSD_RELATIVE)))


def validation_errors(document: Any, schema: etree.XMLSchema | None = None) -> list[str]:
    """XSD problems of an element, tree or file path (empty when valid)."""
    from lxml import etree

    schema = schema or load_schema()
    tree = etree.parse(str(document)) if isinstance(document, str | Path) else document
    if schema.validate(tree):
        return []
    return [line for line in str(schema.error_log).splitlines() if line]


def build_report(
    run: Run,
    alert_id: str,
    config: GoamlConfig,
    indicators: Mapping[str, Sequence[str]] | None = None,
    transmodes: Mapping[str, tuple[str, str]] | None = None,
) -> etree._Element:
    """The goAML ``report`` element of one alert."""
    import polars as pl
    from lxml import etree

    from engine.narrative import draft_narrative

    indicators = indicators if indicators is not None else load_indicators(config.indicators)
    transmodes = transmodes if transmodes is not None else load_transmodes(config.transmodes)
    alert = run.alert(alert_id)
    evidence = run.alert_evidence(alert_id)
    evidence_ids = sorted(set(evidence["tx_id"].to_list()))
    # the same read of the inputs as the narrative draft's (kept by the run)
    rows = run.transactions(str(alert["subject_id"]), tx_ids=evidence_ids).filter(
        pl.col("tx_id").is_in(evidence_ids)
    )
    if rows.height == 0:
        raise InputError(
            f"alert {alert_id} cites no input transaction that could be read back (an alert "
            "of the anomaly detectors alone cites none); a goAML report needs at least one",
            str(run.dir),
        )
    why = _why_by_tx(evidence)
    accounts = run.accounts(sorted(set(rows["src_account"]) | set(rows["dst_account"])))
    clients = _Clients(config, accounts)
    fx = _LocalAmounts(run, config.currency_code_local)

    report = etree.Element("report")
    _sub(report, "rentity_id", str(config.rentity_id))
    _sub(report, "rentity_branch", config.rentity_branch)
    _sub(report, "submission_code", config.submission_code)
    _sub(report, "report_code", config.report_code)
    _sub(report, "entity_reference", alert_id)
    _sub(report, "submission_date", _submission_date(run, config))
    _sub(report, "currency_code_local", config.currency_code_local)
    _person(report, config.reporting_person)
    if config.location:
        location = etree.SubElement(report, "location")
        for key in _LOCATION_FIELDS:
            _sub(location, key, config.location.get(key))
    _sub(report, "reason", _shorten(draft_narrative(run, alert_id), REASON_MAX))
    _sub(report, "action", _shorten(config.action, REASON_MAX))
    missing_country: list[str] = []
    for tx in rows.sort("timestamp", "tx_id").iter_rows(named=True):
        _transaction(report, tx, why, clients, fx, transmodes, config, missing_country)
    if missing_country:
        raise InputError(
            f"transactions {missing_country[:5]} of alert {alert_id} have no country on a side; "
            "set [goaml] default_country (or [goaml.location] country_code)",
            config.source,
        )
    codes = sorted({code for t in alert["typology_ids"] for code in indicators.get(str(t), ())})
    if codes:
        block = etree.SubElement(report, "report_indicators")
        for code in codes:
            _sub(block, "indicator", code)
    return report


# --------------------------------------------------------------------------- parts


class _Clients:
    """Decides which accounts belong to the reporting institution (module docstring)."""

    def __init__(self, config: GoamlConfig, accounts: pl.DataFrame | None) -> None:
        self.config = config
        self.has_file = accounts is not None
        self.rows: dict[str, dict[str, Any]] = (
            {str(r["account_id"]): r for r in accounts.iter_rows(named=True)}
            if accounts is not None
            else {}
        )

    def is_client(self, account: str, bank: str | None) -> bool:
        if account == CASH_ACCOUNT:
            return False
        own = self.config.own_bank
        if self.has_file:
            row = self.rows.get(account)
            return row is not None and row.get("bank") in (None, own)
        return bank == own

    def account(self, account: str) -> dict[str, Any]:
        return self.rows.get(account, {})


class _LocalAmounts:
    """Amounts in ``currency_code_local``: as booked when the currency matches, else the
    run's ``amount_rep`` when the local currency is the reporting currency, else through
    the run's FX table (units per USD)."""

    def __init__(self, run: Run, local: str) -> None:
        self.local = local
        self.reporting = run.reporting_currency.upper()
        self.units: dict[str, Decimal] = {}
        self.where = "fx_rates.csv"
        if local != self.reporting:
            entry = next(
                (r for r in run.manifest.get("reference_files", []) if r.get("name") == "fx_rates"),
                None,
            )
            path = Path(str(entry["path"])) if entry else reference_dir() / "fx_rates.csv"
            self.where = str(path)
            for row in _read_csv(path, ("currency", "units_per_usd")):
                try:
                    self.units[row["currency"].strip().upper()] = Decimal(row["units_per_usd"])
                except ArithmeticError:
                    continue

    def convert(self, amount: Decimal, currency: str, amount_rep: Decimal | None) -> Decimal:
        if currency == self.local:
            value = amount
        elif self.local == self.reporting and amount_rep is not None:
            value = Decimal(amount_rep)
        else:
            units_from = self.units.get(currency)
            units_to = self.units.get(self.local)
            if not units_from or not units_to:
                raise InputError(
                    f"no FX rate between {currency} and {self.local} for amount_local", self.where
                )
            value = Decimal(amount) / units_from * units_to
        return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _transaction(
    report: etree._Element,
    tx: dict[str, Any],
    why: Mapping[str, list[str]],
    clients: _Clients,
    fx: _LocalAmounts,
    transmodes: Mapping[str, tuple[str, str]],
    config: GoamlConfig,
    missing_country: list[str],
) -> None:
    from lxml import etree

    node = etree.SubElement(report, "transaction")
    tx_id = str(tx["tx_id"])
    notes: list[str] = []
    _sub(node, "transactionnumber", _fit(tx_id, 50, notes, "transaction number"))
    _sub(
        node, "internal_ref_number", f"{Path(str(tx['source_file'])).name}:{tx['source_row']}"[:255]
    )
    location = ", ".join(str(v) for v in (tx.get("merchant_name"), tx.get("merchant_city")) if v)
    _sub(node, "transaction_location", location[:255] or None)
    _sub(
        node, "transaction_description", _shorten("; ".join(why.get(tx_id, [])), REASON_MAX) or None
    )
    _sub(node, "date_transaction", _datetime(tx["timestamp"]))
    transmode, funds = transmodes[str(tx["channel"])]
    _sub(node, "transmode_code", transmode)
    amount = Decimal(tx["amount"])
    currency = str(tx["currency"])
    local = fx.convert(amount, currency, tx.get("amount_rep"))
    _sub(node, "amount_local", f"{local:.2f}")
    for side in ("from", "to"):
        account = str(tx["src_account" if side == "from" else "dst_account"])
        bank = tx["src_bank" if side == "from" else "dst_bank"]
        mine = clients.is_client(account, None if bank is None else str(bank))
        holder = clients.account(account)
        party = etree.SubElement(node, f"t_{side}_my_client" if mine else f"t_{side}")
        _sub(party, f"{side}_funds_code", funds)
        if currency != config.currency_code_local:
            foreign = etree.SubElement(party, f"{side}_foreign_currency")
            _sub(foreign, "foreign_currency_code", currency)
            _sub(
                foreign, "foreign_amount", f"{amount.quantize(Decimal('0.01'), ROUND_HALF_UP):.2f}"
            )
            rate = (local / amount).quantize(Decimal("0.000001"), ROUND_HALF_UP) if amount else 0
            _sub(foreign, "foreign_exchange_rate", f"{rate}")
        if account == CASH_ACCOUNT:
            entity = etree.SubElement(party, f"{side}_entity")
            _sub(entity, "name", CASH_ENTITY)
        else:
            acc = etree.SubElement(party, f"{side}_account")
            institution = (
                (config.institution_name or f"reporting entity {config.rentity_id}")
                if mine
                else str(bank or holder.get("bank") or UNKNOWN_INSTITUTION)
            )
            _sub(acc, "institution_name", institution[:255])
            code = config.own_bank if mine else (bank or holder.get("bank"))
            _sub(acc, "institution_code", None if code is None else str(code)[:50])
            if mine:
                _sub(acc, "branch", config.rentity_branch)
            _sub(acc, "account", _fit(account, 50, notes, f"{side} account"))
            _sub(acc, "currency_code", currency)
            if mine and holder.get("opened_at") is not None:
                _sub(acc, "opened", _datetime(holder["opened_at"]))
        country = tx["src_country" if side == "from" else "dst_country"] or holder.get("country")
        country = country or config.default_country
        if country is None:
            missing_country.append(tx_id)
            country = "XX"
        _sub(party, f"{side}_country", str(country))
    if notes:
        _sub(node, "comments", "; ".join(notes))


def _person(report: etree._Element, person: Mapping[str, Any]) -> None:
    from lxml import etree

    node = etree.SubElement(report, "reporting_person")
    for key in _PERSON_FIELDS:
        value = person.get(key)
        if key == "phone" and isinstance(value, Mapping):
            phone = etree.SubElement(etree.SubElement(node, "phones"), "phone")
            for sub in _PHONE_FIELDS:
                _sub(phone, sub, None if _blank(value.get(sub)) else str(value[sub]))
        elif not _blank(value):
            _sub(node, key, str(value))


def _sub(parent: etree._Element, tag: str, text: str | None) -> None:
    """Append ``<tag>text</tag>``; nothing when ``text`` is None."""
    from lxml import etree

    if text is None:
        return
    etree.SubElement(parent, tag).text = text


def _why_by_tx(evidence: pl.DataFrame) -> dict[str, list[str]]:
    why: dict[str, list[str]] = {}
    for row in evidence.sort("typology_id", "hit_id", "tx_id").iter_rows(named=True):
        text = f"{row['typology_id']}: {row['why']}"
        items = why.setdefault(str(row["tx_id"]), [])
        if text not in items:
            items.append(text)
    return why


def _submission_date(run: Run, config: GoamlConfig) -> str:
    """The run's reference date at midnight: ``as_of``, or the day the scan ran (the
    manifest's latest allowed timestamp less the tolerance), unless the config sets one."""
    if config.submission_date is not None:
        return _datetime(datetime.fromisoformat(config.submission_date))
    record = run.manifest.get("config", {})
    if record.get("as_of"):
        return _datetime(datetime.fromisoformat(str(record["as_of"])))
    latest = datetime.fromisoformat(str(run.manifest["latest_allowed_timestamp"]))
    tolerance = int(record.get("future_tolerance_days") or 0)
    return _datetime(latest - timedelta(days=1 + tolerance))


def _datetime(value: datetime) -> str:
    return value.replace(microsecond=0, tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S")


def _fit(value: str, limit: int, notes: list[str], what: str) -> str:
    if len(value) <= limit:
        return value
    notes.append(f"full {what}: {value}")
    return value[:limit]


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    suffix = (
        f" [Shortened to the {limit:,} characters goAML allows; the full draft is in the report.]"
    )
    cut = text[: limit - len(suffix)]
    end = cut.rfind(". ")
    return (cut[: end + 1] if end > 0 else cut) + suffix
