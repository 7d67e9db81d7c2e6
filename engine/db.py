"""The DuckDB connection every stage works on.

A scan works in an in-memory database whose temp directory sits in the run's scratch
folder, so inputs larger than the memory limit spill to disk instead of failing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from engine.config import RunConfig


def connect(config: RunConfig, scratch_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB connection set up for a scan.

    Args:
        config: supplies ``memory_limit`` and ``threads``.
        scratch_dir: folder for spill files; ``None`` keeps everything in memory
            (tests, fixture cases).
    """
    # An in-memory database is about twice as fast as a database file here; with a
    # temp directory DuckDB still spills to disk past the memory limit.
    con = duckdb.connect(":memory:")
    if scratch_dir is not None:
        scratch_dir.mkdir(parents=True, exist_ok=True)
        con.execute("set temp_directory = $dir", {"dir": str(scratch_dir / "spill")})
    # DuckDB's own default is 80% of the machine; the detectors' matrices live outside
    # DuckDB, so by default it gets half and spills beyond that
    limit = config.memory_limit or f"{max(1, _physical_memory_gib() // 2)}GB"
    con.execute("set memory_limit = $limit", {"limit": limit})
    if config.threads:
        con.execute("set threads = $threads", {"threads": config.threads})
    # Row order of every materialised table follows its query: needed for row numbers
    # and for byte-identical outputs.
    con.execute("set preserve_insertion_order = true")
    con.execute("set enable_progress_bar = false")
    con.execute("set TimeZone = 'UTC'")
    _create_macros(con)
    return con


def _create_macros(con: duckdb.DuckDBPyConnection) -> None:
    # Typologies find qualifying windows per account and report one hit per episode:
    # overlapping windows [window_start, window_limit] of one subject are merged.
    # Usage: select * from merged_windows(qualifying) -> subject_id, episode,
    # episode_start, episode_limit.
    con.execute(
        """
        create or replace macro merged_windows(windows) as table
        select subject_id, episode, min(window_start) as episode_start,
               max(window_limit) as episode_limit
        from (
            select *, sum(is_new) over (
                       partition by subject_id order by window_start, window_limit
                   ) as episode
            from (
                select *,
                       case when window_start <= max(window_limit) over (
                                partition by subject_id order by window_start, window_limit
                                rows between unbounded preceding and 1 preceding)
                            then 0 else 1 end as is_new
                from query_table(windows)
            )
        )
        group by subject_id, episode
        """
    )
    # Descriptor matching against ref_merchant_patterns (case-insensitive RE2 regexes):
    # select * from pattern_matches(texts, ['vasp', 'tppp']), where texts is a table or
    # CTE with a column named text (categories NULL: every category)
    # -> text, category, label (the pattern's note up to its first colon, else the
    # pattern), one row per distinct text and matching category.
    # A regex whose pattern comes from a table is compiled again for every row it meets,
    # so testing every text against every pattern costs (texts x patterns) compilations.
    # Instead the texts are joined into 256 newline-separated blocks and each pattern runs
    # once per block, wrapped so that it returns whole lines: every text the pattern
    # matches lies inside one of the returned lines. Only those candidates are then
    # tested one by one, so the result is exactly that of testing every pair. Texts
    # containing a newline, and patterns with absolute anchors (\A, \z) or flag switches
    # that behave differently inside the joined block, are tested pair by pair.
    con.execute(
        r"""
        create or replace macro pattern_matches(texts, categories) as table
        with wanted_patterns as (
            select
                pattern,
                category,
                case when strpos(note, ':') > 1 then trim(split_part(note, ':', 1))
                     else pattern end as label,
                not regexp_matches(pattern, '\\[Az]|\(\?[a-zA-Z]*-') as joinable
            from ref_merchant_patterns
            where categories is null or list_contains(categories, category)
        ),
        distinct_texts as (
            select distinct text from query_table(texts) where text is not null
        ),
        text_blocks as (
            select hash(text) % 256 as block, string_agg(text, chr(10)) as joined
            from distinct_texts
            where strpos(text, chr(10)) = 0
            group by block
        ),
        candidate_pairs as (
            select distinct p.pattern, p.category, p.label, line as text
            from text_blocks b
            join wanted_patterns p on p.joinable
            cross join unnest(flatten(list_transform(
                regexp_extract_all(
                    b.joined, '(?m)^[^\n]*(?:' || p.pattern || ')[^\n]*$', 0, 'i'),
                lambda span: string_split(span, chr(10))))) as u(line)
            union all
            select p.pattern, p.category, p.label, d.text
            from distinct_texts d
            join wanted_patterns p on strpos(d.text, chr(10)) > 0 or not p.joinable
        )
        select text, category, min(label) as label
        from candidate_pairs
        where regexp_matches(text, pattern, 'i')
        group by text, category
        """
    )
    # Fan-in rules (GRAPH-01 fan-in, CTRL-01 collector) count the distinct senders of one
    # receiver within window_days consecutive calendar days (counterparty_windows below).
    # Their inflows:
    # select * from fan_in_inflows(transactions, $channels, $recurring_months) ->
    # subject_id (the receiver), sender, tx_id, timestamp, day, amount, currency,
    # amount_rep, channel, description: the transfers by the given channels between two
    # accounts (cash has no identifiable sender or receiving account), less those of
    # standing relationships, a sender paying the same account in recurring_months
    # calendar months (rent, a subscription, a family allowance): AMLSim's fan-in members
    # each send once.
    con.execute(
        """
        create or replace macro fan_in_inflows(transactions, channels, recurring_months) as table
        with recurring_pairs as (
            select src_account, dst_account
            from query_table(transactions)
            where list_contains(channels::varchar[], channel)
            group by src_account, dst_account
            having count(distinct date_trunc('month', day)) >= recurring_months
        )
        select
            dst_account as subject_id,
            src_account as sender,
            tx_id,
            timestamp,
            day,
            amount,
            currency,
            amount_rep,
            channel,
            description
        from query_table(transactions)
        where list_contains(channels::varchar[], channel)
          and src_account <> 'CASH'
          and dst_account <> 'CASH'
          and (src_account, dst_account) not in (select * from recurring_pairs)
        """
    )
    # Windows of window_days consecutive calendar days in which one account deals with at
    # least min_counterparties distinct counterparties on one side (fan-in: GRAPH-01,
    # CTRL-01 count senders; fan-out: GRAPH-02 counts payees):
    # select * from counterparty_windows(transfers, $window_days, $min_counterparties,
    # $max_counterparties, $min_total) -> subject_id, window_start, window_limit (calendar
    # days), counterparties, amount_rep, one row per qualifying window, from `transfers`
    # (subject_id, counterparty, day, amount_rep). Distinct counts over a sliding window
    # cannot be a window function (count(distinct) has no RANGE frame), so the work is
    # done on day buckets: one row per account, day and counterparty; the sum of the daily
    # counterparty counts over the window bounds the distinct counterparties from above (one
    # active on several days is counted once per day) and prunes most windows; the
    # remaining candidate windows get an exact count through an equi-join on (account,
    # day). Nothing joins an account's whole history with itself. An account that ever has
    # more than max_counterparties in one window is a hub (merchant, biller, charity,
    # marketplace receiving; payroll bureau, marketplace, insurer paying out): that is its
    # business, and the peer-group detectors, not a count rule, judge whether its volume
    # fits; none of its windows is returned. Windows below min_total (friends splitting a
    # bill, a few small gifts) are neither a collection nor a distribution.
    con.execute(
        """
        create or replace macro counterparty_windows(
            transfers, window_days, min_counterparties, max_counterparties, min_total
        ) as table
        with counterparty_days as materialized (
            select subject_id, day, counterparty, sum(amount_rep) as amount_rep
            from query_table(transfers)
            group by subject_id, day, counterparty
        ),
        active_days as (
            select subject_id, day, count(*) as counterparties
            from counterparty_days
            group by subject_id, day
        ),
        bounded as (
            select
                subject_id,
                day as window_day,
                sum(counterparties) over (
                    partition by subject_id order by day
                    range between current row and to_days(window_days - 1) following
                ) as counterparty_bound
            from active_days
        ),
        candidate_windows as (
            select subject_id, window_day
            from bounded
            where counterparty_bound >= min_counterparties
        ),
        candidate_window_days as (
            select c.subject_id, c.window_day, c.window_day + k.day_offset::integer as day
            from candidate_windows c
            cross join generate_series(0, window_days - 1) as k(day_offset)
        ),
        window_counts as (
            select
                w.subject_id,
                w.window_day,
                count(distinct s.counterparty) as counterparties,
                sum(s.amount_rep) as amount_rep
            from candidate_window_days w
            join counterparty_days s on s.subject_id = w.subject_id and s.day = w.day
            group by w.subject_id, w.window_day
        ),
        hubs as (
            select subject_id
            from window_counts
            group by subject_id
            having max(counterparties) > max_counterparties
        )
        select
            c.subject_id,
            c.window_day as window_start,
            c.window_day + (window_days - 1)::integer as window_limit,
            c.counterparties,
            c.amount_rep
        from window_counts c
        anti join hubs h on h.subject_id = c.subject_id
        where c.counterparties >= min_counterparties
          and c.amount_rep >= min_total
        """
    )
    # Deposit-then-send rules (GRAPH-09 deposit-send, XB-01 cash sent abroad) pair each
    # cash deposit with the later outflows of the same account. Running totals first:
    # select * from cash_running_totals(candidates) -> every column of `candidates`
    # (subject_id, tx_id, timestamp, amount_rep, kind: 'cash' for a deposit, 'out' for an
    # outflow, ...) plus cum_cash and cum_out, the account's cash deposited and money sent
    # up to and including the row; at equal timestamps the deposit comes first.
    con.execute(
        """
        create or replace macro cash_running_totals(candidates) as table
        select
            c.*,
            sum(case when c.kind = 'cash' then c.amount_rep else 0 end)
                over account_order as cum_cash,
            sum(case when c.kind = 'out' then c.amount_rep else 0 end)
                over account_order as cum_out
        from query_table(candidates) c
        window account_order as (
            partition by c.subject_id order by c.timestamp, c.kind, c.tx_id
            rows between unbounded preceding and current row
        )
        """
    )
    # Then the pairs: select * from cash_out_pairs(running, to_hours($window_hours)) ->
    # subject_id, pair_start, pair_end, cash_in, sent_out: one row per deposit d and
    # later outflow o of the same account at most pair_window after it, with the cash
    # deposited from d up to o (cash_in) and the outflows in the same span (sent_out),
    # from `running` (the output of cash_running_totals, with day). Each deposit is
    # copied onto the days its window touches, so the pair join is an equi-join on
    # (account, day): the work grows with the deposit-outflow pairs within the window,
    # never with an account's whole history.
    con.execute(
        """
        create or replace macro cash_out_pairs(running, pair_window) as table
        with deposit_days as (
            select r.*, r.day + k.day_offset::integer as bucket_day
            from query_table(running) r
            cross join generate_series(
                0, ceil(epoch(pair_window) / 86400)::integer) as k(day_offset)
            where r.kind = 'cash'
        )
        select
            d.subject_id,
            d.timestamp as pair_start,
            o.timestamp as pair_end,
            o.cum_cash - (d.cum_cash - d.amount_rep) as cash_in,
            o.cum_out - d.cum_out as sent_out
        from deposit_days d
        join query_table(running) o
            on o.subject_id = d.subject_id
            and o.day = d.bucket_day
            and o.kind = 'out'
        where o.timestamp >= d.timestamp
          and o.timestamp <= d.timestamp + pair_window
        """
    )
    # Graph rules on payer -> payee links (GRAPH-07 bipartite, GRAPH-08 stack) start from
    # the same pruned pairs: select * from pruned_pair_transfers(transactions, $channels,
    # $recurring_months, $min_link_amount, $max_degree, $window_days) -> the transfers
    # (tx_id, timestamp, day, src, dst, amount, currency, amount_rep, channel) by the given
    # channels of the payer-payee pairs that can carry a link. Standing relationships are
    # removed: pairs paid in recurring_months calendar months (rent, bills, allowances),
    # pairs paid both ways (family, flatmates, friends settling up), pairs with payroll
    # wording (an employer's wages), payees paid by card (merchants, billers: a shared shop
    # or utility is no block) and pairs below min_link_amount over the whole scan. So are
    # hubs: more than max_degree distinct payees (employer, payroll bureau) or payers
    # (landlord, utility, charity) within one window_days bucket of the calendar (days
    # since 1970-01-01 divided by window_days), counted over every transfer of the
    # channels (recurring ones too); their transfers on that side leave.
    # Calendar months are counted as the bits of a 64-bit mask (one bit per month number
    # modulo 64), cheaper than a distinct count and exact for scans spanning fewer than 64
    # calendar months. Only accounts of a possible pair with more than max_degree
    # counterparties over the whole scan can be hubs, so only their transfers are bucketed.
    con.execute(
        """
        create or replace macro pruned_pair_transfers(
            transactions, channels, recurring_months, min_link_amount, max_degree, window_days
        ) as table
        with payroll_texts as (
            select distinct description as text
            from query_table(transactions)
            where description is not null and list_contains(channels::varchar[], channel)
        ),
        payroll_descriptions as (
            select text from pattern_matches(payroll_texts, ['payroll_credit'])
        ),
        pair_history as materialized (
            select
                src_account as src,
                dst_account as dst,
                bit_count(bit_or(
                    1::ubigint << ((year(day) * 12 + month(day)) % 64)::ubigint)) as months,
                sum(amount_rep) as amount_rep,
                coalesce(bool_or(description in (select text from payroll_descriptions)),
                         false) as payroll
            from query_table(transactions)
            where list_contains(channels::varchar[], channel)
              and src_account <> 'CASH'
              and dst_account <> 'CASH'
            group by src_account, dst_account
        ),
        merchants as (
            select distinct dst_account as account
            from query_table(transactions)
            where channel = 'card'
        ),
        possible_pairs as materialized (
            select p.src, p.dst
            from pair_history p
            anti join pair_history r on r.src = p.dst and r.dst = p.src
            anti join merchants m on m.account = p.dst
            where p.months < recurring_months
              and not p.payroll
              and p.amount_rep >= min_link_amount
        ),
        payer_hub_candidates as (
            select src as account
            from pair_history
            semi join possible_pairs c using (src)
            group by src
            having count(*) > max_degree
        ),
        payee_hub_candidates as (
            select dst as account
            from pair_history
            semi join possible_pairs c using (dst)
            group by dst
            having count(*) > max_degree
        ),
        payer_hubs as (
            select distinct src_account as account
            from (
                select src_account,
                       date_diff('day', date '1970-01-01', day) // window_days as bucket
                from query_table(transactions)
                semi join payer_hub_candidates c on c.account = src_account
                where list_contains(channels::varchar[], channel) and dst_account <> 'CASH'
                group by src_account, bucket
                having count(distinct dst_account) > max_degree
            )
        ),
        payee_hubs as (
            select distinct dst_account as account
            from (
                select dst_account,
                       date_diff('day', date '1970-01-01', day) // window_days as bucket
                from query_table(transactions)
                semi join payee_hub_candidates c on c.account = dst_account
                where list_contains(channels::varchar[], channel) and src_account <> 'CASH'
                group by dst_account, bucket
                having count(distinct src_account) > max_degree
            )
        )
        select
            t.tx_id, t.timestamp, t.day, t.src_account as src, t.dst_account as dst,
            t.amount, t.currency, t.amount_rep, t.channel
        from query_table(transactions) t
        semi join possible_pairs p on p.src = t.src_account and p.dst = t.dst_account
        anti join payer_hubs h on h.account = t.src_account
        anti join payee_hubs g on g.account = t.dst_account
        where list_contains(channels::varchar[], t.channel)
        """
    )
    # Accounts with two distinct counterparties on one side within window_days, from day
    # links (src, dst, day: one row per payer, payee and day):
    # select * from two_counterparty_accounts(links, $window_days) -> account, side
    # ('payer': two payees, 'payee': two payers). If an account has two, two of its links
    # that are neighbours in day order already show it (the first change of counterparty
    # between them), so comparing each link with the previous one is exact.
    con.execute(
        """
        create or replace macro two_counterparty_accounts(links, window_days) as table
        select distinct src as account, 'payer' as side
        from (
            select src, dst, day,
                   lag(dst) over (partition by src order by day, dst) as prev_dst,
                   lag(day) over (partition by src order by day, dst) as prev_day
            from query_table(links)
        )
        where prev_dst <> dst and day - prev_day <= window_days - 1
        union all
        select distinct dst, 'payee'
        from (
            select src, dst, day,
                   lag(src) over (partition by dst order by day, src) as prev_src,
                   lag(day) over (partition by dst order by day, src) as prev_day
            from query_table(links)
        )
        where prev_src <> src and day - prev_day <= window_days - 1
        """
    )
    # Day links copied onto the windows of window_days calendar days that open on each day
    # with a link: select * from windowed_links(links, $window_days, $min_link_amount) ->
    # window_day, src, dst, first_day, last_day, amount_rep, from `links` (src, dst, day,
    # amount_rep). A block whose links span at most window_days is seen whole in the
    # window opening on its first day; a pair with less than min_link_amount in a window
    # (a token payment) is no link of it.
    con.execute(
        """
        create or replace macro windowed_links(links, window_days, min_link_amount) as table
        with window_starts as (
            select distinct day as window_day from query_table(links)
        )
        select
            w.window_day,
            c.src,
            c.dst,
            min(c.day) as first_day,
            max(c.day) as last_day,
            sum(c.amount_rep) as amount_rep
        from query_table(links) c
        cross join generate_series(0, window_days - 1) as k(day_offset)
        join window_starts w on w.window_day = c.day - k.day_offset::integer
        group by w.window_day, c.src, c.dst
        having sum(c.amount_rep) >= min_link_amount
        """
    )
    # Hubs of the path walks (GRAPH-05 cycle, GRAPH-06 chain): select * from
    # monthly_hubs(transfers, accounts, $max_counterparties) -> account_id of each account
    # of `accounts` (column account_id) that pays, or is paid by, more than
    # max_counterparties distinct accounts in one calendar month of `transfers` (columns
    # src_account, dst_account, day; every amount). Money through a hub (payroll
    # processor, employer, landlord of a large building, marketplace, biller) mixes with
    # everyone else's, so a path through it is not one of related accounts.
    con.execute(
        """
        create or replace macro monthly_hubs(transfers, accounts, max_counterparties) as table
        select distinct account_id
        from (
            select distinct c.src_account as account_id, date_trunc('month', c.day) as month,
                            'out' as direction, c.dst_account as counterparty
            from query_table(transfers) c
            semi join query_table(accounts) a on a.account_id = c.src_account
            union all
            select distinct c.dst_account, date_trunc('month', c.day), 'in', c.src_account
            from query_table(transfers) c
            semi join query_table(accounts) a on a.account_id = c.dst_account
        )
        group by account_id, month, direction
        having count(*) > max_counterparties
        """
    )
    # Evidence of a path walk's episodes: select * from hop_evidence(episode_txs, hops,
    # 'cycle hop') -> subject_id, episode, window_start, window_end, tx_count,
    # amount_total, evidence, from `episode_txs` (subject_id, episode, tx_id: each
    # transfer once) and the transfers `hops` (tx_id, src_account, dst_account,
    # timestamp, amount, currency, amount_rep, channel); each transfer's why reads
    # "<label>: <amount> <currency> from <src> to <dst> by <channel>".
    con.execute(
        """
        create or replace macro hop_evidence(episode_txs, hops, label) as table
        select
            e.subject_id,
            e.episode,
            min(h.timestamp) as window_start,
            max(h.timestamp) as window_end,
            count(*) as tx_count,
            sum(h.amount_rep) as amount_total,
            list({'tx_id': h.tx_id,
                  'why': label || ': ' || format('{:,.2f}', h.amount::double) || ' '
                         || h.currency || ' from ' || h.src_account || ' to ' || h.dst_account
                         || ' by ' || replace(h.channel, '_', ' ')}
                 order by h.timestamp, h.tx_id) as evidence
        from query_table(episode_txs) e
        join query_table(hops) h on h.tx_id = e.tx_id
        group by e.subject_id, e.episode
        """
    )
    # The first and last hop of the path described in a reason: select * from
    # path_end_amounts(described, hops) -> subject_id, episode, one_currency, currency,
    # first_amount, last_amount, first_rep, last_rep, from `described` (subject_id,
    # episode, txs: the path's transfer ids in order, hop_count) and the transfers `hops`
    # (tx_id, amount, currency, amount_rep).
    con.execute(
        """
        create or replace macro path_end_amounts(described, hops) as table
        select
            d.subject_id,
            d.episode,
            count(distinct h.currency) = 1 as one_currency,
            min(h.currency) as currency,
            max(case when h.tx_id = d.txs[1] then h.amount end) as first_amount,
            max(case when h.tx_id = d.txs[d.hop_count] then h.amount end) as last_amount,
            max(case when h.tx_id = d.txs[1] then h.amount_rep end) as first_rep,
            max(case when h.tx_id = d.txs[d.hop_count] then h.amount_rep end) as last_rep
        from query_table(described) d
        cross join unnest(d.txs) as t(tx_id)
        join query_table(hops) h on h.tx_id = t.tx_id
        group by d.subject_id, d.episode
        """
    )
    # Money in a reason: money_text(native_sum, reporting_sum, one_currency_flag, code) ->
    # e.g. '1,250.00 EUR' when every transfer summed is in one currency (code), else the
    # sum in the reporting currency, '1,371.40 (reporting currency)'.
    con.execute(
        """
        create or replace macro money_text(native_sum, reporting_sum, one_currency_flag, code)
        as case
            when one_currency_flag then format('{:,.2f}', native_sum::double) || ' ' || code
            else format('{:,.2f}', reporting_sum::double) || ' (reporting currency)' end
        """
    )
    # ISO 8601 text to a local timestamp: a zone suffix after the time of day (Z, +02,
    # -05:00) is dropped so the wall-clock time of the export is kept; NULL when invalid.
    con.execute(
        r"""
        create or replace macro iso_local_timestamp(text) as try_cast(
            regexp_replace(
                text,
                '([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)\s*(Z|[+-]\d{2}(:?\d{2})?)$',
                '\1'
            ) as timestamp)
        """
    )


def arrow_table(con: duckdb.DuckDBPyConnection, query: str) -> pa.Table:
    """Run a read-only query on a cursor of its own and return the result as Arrow.

    DuckDB's relation API refuses to run while the connection holds an unfinished
    ``execute`` result; a cursor shares the database but not that state.
    """
    cursor = con.cursor()
    try:
        return cursor.sql(query).to_arrow_table()
    finally:
        cursor.close()


def scalar(
    con: duckdb.DuckDBPyConnection, query: str, params: dict[str, object] | None = None
) -> Any:
    """The first value of a one-row query (read to the end, which DuckDB 2.0 requires
    before the connection runs anything else)."""
    rows = con.execute(query, params or {}).fetchall()
    return rows[0][0] if rows else None


def _physical_memory_gib() -> int:
    try:
        pages = os.sysconf("SC_PHYS_PAGES")
        page_size = os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 8
    return int(pages * page_size / 2**30)
