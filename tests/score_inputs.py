"""The feature tables the score stage reads, made from a hand-made ``transactions`` table
for the score and policy tests (the real ones come from sql/features)."""

from __future__ import annotations

import duckdb

from engine.resources import sql_text


def create_score_inputs(con: duckdb.DuckDBPyConnection, accounts: tuple[str, ...] = ()) -> None:
    """Create ``account_legs``, ``account_keys`` and ``pair_flows`` (the features stage's
    own SQL), ``account_features`` (account_id, in/out count, amount and counterparties) and
    ``wage_credits`` from ``transactions`` (tx_id, src_account, dst_account, amount_rep,
    and optionally channel, default p2p, 'payroll' marking a wage credit, and timestamp)
    and the subjects of ``hits``, plus ``accounts`` seen without a transaction."""
    con.execute("alter table transactions add column if not exists channel varchar default 'p2p'")
    con.execute(
        "alter table transactions add column if not exists timestamp timestamp "
        "default timestamp '2024-01-01 10:00:00'"
    )
    con.execute(
        "create or replace view account_legs as "
        "select dst_account as account_id, 'in' as direction, src_account as counterparty, "
        "tx_id, timestamp, channel, amount_rep "
        "from transactions where dst_account <> cash_account() union all "
        "select src_account, 'out', dst_account, tx_id, timestamp, channel, amount_rep "
        "from transactions where src_account <> cash_account()"
    )
    con.execute("create or replace table account_keys as " + sql_text("features/account_keys.sql"))
    con.execute("create or replace table pair_flows as " + sql_text("features/pair_flows.sql"))
    con.execute(
        "create or replace table account_features as select account_id, "
        "count(*) filter (where direction = 'in') as in_count, "
        "count(*) filter (where direction = 'out') as out_count, "
        "coalesce(sum(amount_rep) filter (where direction = 'in'), 0)::double as in_amount, "
        "coalesce(sum(amount_rep) filter (where direction = 'out'), 0)::double as out_amount, "
        # distinct senders and receivers (cash included) and the accounts both paying and
        # paid, as the features stage counts them
        "count(distinct counterparty) filter (where direction = 'in') as in_counterparties, "
        "count(distinct counterparty) filter (where direction = 'out') as out_counterparties, "
        "(select count(*) from (select counterparty from account_legs m "
        "where m.account_id = l.account_id and m.direction = 'in' "
        "and m.counterparty <> cash_account() intersect select counterparty "
        "from account_legs m where m.account_id = l.account_id and m.direction = 'out')) "
        "as mutual_counterparties "
        "from (select account_id, direction, counterparty, amount_rep from account_legs "
        "union all select subject_id, null, null, null from hits "
        "union all select unnest($accounts::varchar[]), null, null, null) l "
        "group by account_id",
        {"accounts": list(accounts)},
    )
    con.execute(
        "create or replace table wage_credits as "
        "select tx_id, src_account as wage_payer, dst_account as worker, amount_rep, "
        "false as worker_pays_wages from transactions where channel = 'payroll'"
    )
