"""What planted patterns are made of: the transaction layout, the time frame and the
``Planted`` collector that plant functions write into.

A plant function has the signature ``plant(p, rng, i, day)``: it adds the transactions of
instance ``i`` of one typology starting around ``day`` (days after ``START``), records every
account's role with ``p.role`` (``flagged=True`` for the accounts the typology itself must
hit) and, where the typology needs the accounts file, the account's row with ``p.account``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

START = np.datetime64("2024-01-01T00:00:00", "s")
DAYS = 90

TX_SCHEMA = pa.schema(
    [
        ("tx_id", pa.string()),
        ("timestamp", pa.timestamp("us")),
        ("src_account", pa.string()),
        ("dst_account", pa.string()),
        ("amount", pa.float64()),
        ("currency", pa.string()),
        ("channel", pa.string()),
        ("src_bank", pa.string()),
        ("dst_bank", pa.string()),
        ("mcc", pa.string()),
        ("merchant_name", pa.string()),
        ("merchant_city", pa.string()),
        ("src_country", pa.string()),
        ("dst_country", pa.string()),
        ("description", pa.string()),
        ("is_laundering", pa.int8()),
        ("pattern", pa.string()),
    ]
)
CITIES = np.array(
    [
        "Chicago",
        "Houston",
        "Phoenix",
        "Dallas",
        "Austin",
        "Denver",
        "Seattle",
        "Boston",
        "Miami",
        "Atlanta",
        "Portland",
        "Detroit",
    ]
)
ADULT_AD_MERCHANTS = ["SKIPTHEGAMES.COM", "MEGAPERSONALS", "TRYST.LINK", "ESCORT ADS ONLINE"]
XB_COUNTRIES = ["PH", "TH", "MX", "GT", "HN", "SV", "VN"]


def at(rng: np.random.Generator, day: float, spread_hours: float = 0) -> np.datetime64:
    """The moment ``day`` days after ``START``, plus up to ``spread_hours`` at random."""
    seconds = int(day * 86400 + rng.uniform(0, spread_hours) * 3600)
    return START + np.timedelta64(seconds, "s")


@dataclass
class Planted:
    """Transactions and truth rows of the planted patterns (built in Python: they are few)."""

    rows: dict[str, list[object]] = field(
        default_factory=lambda: {name: [] for name in TX_SCHEMA.names}
    )
    truth: list[tuple[str, str, str, str, bool]] = field(default_factory=list)
    accounts: dict[str, tuple[str, str, np.datetime64 | None]] = field(default_factory=dict)
    graph_blocks: list[tuple[str, str, list[int]]] = field(default_factory=list)

    def add(
        self,
        pattern: str | None,
        when: np.datetime64,
        src: str,
        dst: str,
        amount: float,
        channel: str,
        **extra: object,
    ) -> int:
        index = len(self.rows["tx_id"])
        values: dict[str, object] = {
            "tx_id": f"P{index:09d}",
            "timestamp": when,
            "src_account": src,
            "dst_account": dst,
            "amount": round(float(amount), 2),
            "currency": "USD",
            "channel": channel,
            "src_bank": "B001",
            "dst_bank": "B001",
            "mcc": None,
            "merchant_name": None,
            "merchant_city": None,
            "src_country": "US",
            "dst_country": "US",
            "description": None,
            "is_laundering": int(pattern is not None),
            "pattern": pattern,
        }
        values.update(extra)
        for name in TX_SCHEMA.names:
            self.rows[name].append(values[name])
        return index

    def role(
        self, account: str, pattern: str, role: str, instance: str, flagged: bool = False
    ) -> None:
        """Record ``account``'s part in an instance; ``flagged`` marks the accounts the
        typology ``pattern`` must itself hit (the tests check this for every pattern)."""
        self.truth.append((account, pattern, role, instance, flagged))

    def account(
        self,
        account: str,
        customer_type: str,
        segment: str,
        opened_at: np.datetime64 | None = None,
    ) -> None:
        """Give a planted account a row in the accounts file (else it has none);
        ``opened_at`` is its opening date, else one drawn like a normal account's."""
        self.accounts[account] = (customer_type, segment, opened_at)
