-- LIFE-02: a large outflow (an asset purchase: real estate, a vehicle, a business) paid
-- from an account that was funded mostly by cash.
--
-- A large outflow is a payment (channels) of at least min_outflow in the reporting
-- currency. It qualifies when, in the lookback_days calendar days before its day plus
-- that day up to the outflow, at least min_cash_share of the money received was cash
-- deposits and the cash deposited is at least min_cash_to_outflow of the outflow (cash
-- paid for a real part of it). Inflows are summed per account-day, so each outflow is
-- joined to at most lookback_days + 1 rows of its own account. Overlapping qualifying
-- spans (first cash deposit .. outflow) make one hit.
with large_outflows as materialized (
    select
        src_account as subject_id,
        tx_id,
        timestamp,
        day,
        amount,
        currency,
        amount_rep,
        channel,
        coalesce(merchant_name, dst_account) as payee
    from transactions
    where list_contains($channels::varchar[], channel)
      and src_account <> cash_account()
      and dst_account <> cash_account()
      and amount_rep >= $min_outflow
),

-- credits of the accounts that make large outflows only
inflows as materialized (
    select
        t.dst_account as subject_id,
        t.tx_id,
        t.timestamp,
        t.day,
        t.amount,
        t.currency,
        t.amount_rep,
        t.channel = 'cash_deposit' as is_cash
    from transactions t
    semi join (select distinct subject_id from large_outflows) s on s.subject_id = t.dst_account
    where t.src_account <> t.dst_account
),

inflow_days as (
    select
        subject_id,
        day,
        sum(amount_rep) as received,
        coalesce(sum(amount_rep) filter (where is_cash), 0) as cash
    from inflows
    group by subject_id, day
),

-- money received before each large outflow: whole days before its day, plus its own
-- day up to the outflow's time
lookback as (
    select o.tx_id, d.received, d.cash
    from large_outflows o
    join inflow_days d
        on d.subject_id = o.subject_id
        and d.day >= o.day - $lookback_days::integer
        and d.day < o.day
    union all
    select o.tx_id, i.amount_rep, case when i.is_cash then i.amount_rep else 0 end
    from large_outflows o
    join inflows i
        on i.subject_id = o.subject_id
        and i.day = o.day
        and i.timestamp < o.timestamp
),

funding as (
    select tx_id, sum(received) as received, sum(cash) as cash
    from lookback
    group by tx_id
),

qualifying_outflows as materialized (
    select
        o.*,
        f.received,
        f.cash,
        f.cash / f.received as cash_share
    from large_outflows o
    join funding f using (tx_id)
    where f.cash > 0
      -- FC23: extensive use of cash to purchase assets; the cash must dominate what came in
      and f.cash >= $min_cash_share * f.received
      -- ... and pay for a real part of the purchase: a small cash gift in a quiet quarter
      -- before a car bought from savings is not a cash-funded purchase
      and f.cash >= $min_cash_to_outflow * o.amount_rep
),

-- the span of each qualifying outflow: from its first cash deposit in the lookback
spans as (
    select
        q.subject_id,
        min(i.timestamp) as window_start,
        any_value(q.timestamp) as window_limit
    from qualifying_outflows q
    join inflows i
        on i.subject_id = q.subject_id
        and i.is_cash
        and i.day >= q.day - $lookback_days::integer
        and i.timestamp < q.timestamp
    group by q.subject_id, q.tx_id
),

-- overlapping qualifying spans of one account form one episode
episode_bounds as (
    select * from merged_windows(spans)
),

evidence_rows as (
    select
        e.subject_id,
        e.episode,
        'out' as kind,
        q.tx_id,
        q.timestamp,
        q.amount,
        q.currency,
        q.amount_rep,
        q.cash_share,
        q.received,
        replace(q.channel, '_', ' ') || ' of ' || format('{:,.2f}', q.amount::double) || ' '
            || q.currency || ' to ' || q.payee || ' after '
            || format('{:,.2f}', q.cash::double) || ' of cash deposits ('
            || format('{:.0f}', floor(100 * q.cash_share)::double) || '% of the '
            || format('{:,.2f}', q.received::double) || ' received in the previous '
            || $lookback_days || ' days, reporting currency)' as why
    from episode_bounds e
    join qualifying_outflows q
        on q.subject_id = e.subject_id
        and q.timestamp >= e.episode_start
        and q.timestamp <= e.episode_limit
    union all
    select
        e.subject_id,
        e.episode,
        'cash',
        i.tx_id,
        i.timestamp,
        i.amount,
        i.currency,
        i.amount_rep,
        null,
        null,
        'cash deposit of ' || format('{:,.2f}', i.amount::double) || ' ' || i.currency
    from episode_bounds e
    join inflows i
        on i.subject_id = e.subject_id
        and i.is_cash
        and i.timestamp >= e.episode_start
        and i.timestamp <= e.episode_limit
),

episode_facts as (
    select
        subject_id,
        episode,
        count(*) filter (where kind = 'out') as n_out,
        count(*) filter (where kind = 'cash') as n_cash,
        sum(amount) filter (where kind = 'out') as out_amount,
        sum(amount_rep) filter (where kind = 'out') as out_rep,
        sum(amount) filter (where kind = 'cash') as cash_amount,
        sum(amount_rep) filter (where kind = 'cash') as cash_rep,
        max(cash_share) as cash_share
    from evidence_rows
    group by subject_id, episode
),

episode_totals as (
    select h.*, f.* exclude (subject_id, episode)
    from episode_hits(evidence_rows) h
    join episode_facts f using (subject_id, episode)
),

final as (
    select
        subject_id,
        window_start,
        window_end,
        tx_count,
        amount_total,
        evidence,
        case when n_out = 1 then 'outflow of ' else n_out || ' outflows totalling ' end
            || money_text(out_amount, out_rep, one_currency, currency)
            || ' after ' || n_cash || ' cash deposit' || case when n_cash = 1 then '' else 's' end
            || ' of '
            || money_text(cash_amount, cash_rep, one_currency, currency)
            || ' within ' || (date_diff('day', window_start::date, window_end::date) + 1)
            || case when window_start::date = window_end::date then ' day' else ' days' end || '; cash was '
            || format('{:.0f}', floor(100 * cash_share)::double) || '% of the money received in the '
            || $lookback_days || ' days before' as reason,
        'controller' as likely_role
    from episode_totals
)

select * from final
