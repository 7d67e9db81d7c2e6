-- STR-02: smurfing: several depositors or branches put money into one account within a
-- few days, each deposit under the reporting threshold, together at or over it.
--
-- Credits (channels) under the threshold of their currency are read, as in STR-01: the
-- currency's own threshold from ref_cash_threshold, or default_threshold compared with
-- the amount in the reporting currency. Each credit has a depositor key: for a cash
-- deposit the branch (src_bank and merchant_city, the only location a cash deposit
-- carries), for any other credit the sending account. Senders that paid the account in
-- recurring_months or more calendar months (tenants, family, clients) are standing
-- relationships and are left out. A window of window_days calendar days qualifies with
-- at least min_depositors distinct keys and a total at or over the threshold; windows
-- are evaluated per account and threshold currency, and overlapping ones make one hit.
with credits as materialized (
    select
        t.dst_account as subject_id,
        t.src_account,
        t.tx_id,
        t.timestamp,
        t.day,
        t.amount,
        t.currency,
        t.amount_rep,
        t.channel,
        t.src_bank,
        t.merchant_city,
        -- the threshold of the credit's own currency; otherwise the default one, compared
        -- with the amount converted into the reporting currency
        coalesce(th.threshold, $default_threshold) as threshold,
        case when th.threshold is null then t.amount_rep else t.amount end as compared_amount,
        case when th.threshold is null then 'reporting currency' else t.currency end as threshold_currency
    from transactions t
    left join ref_cash_threshold th on th.currency = t.currency
    where list_contains($channels::varchar[], t.channel)
      and t.dst_account <> cash_account()
      and t.src_account <> t.dst_account
),

below_threshold as materialized (
    select
        c.*,
        case
            when c.src_account = cash_account()
                then 'branch ' || coalesce(nullif(concat_ws(' / ', c.src_bank, c.merchant_city), ''), 'unknown')
            else 'sender ' || c.src_account
        end as depositor
    from credits c
    where c.compared_amount < c.threshold
),

-- Cheap bound first: the credits of a window bound its distinct depositors from above,
-- and its amount before recurring senders are dropped bounds the counted amount.
-- Accounts whose windows never reach both the minimum depositors and the threshold
-- cannot qualify; only the others are read further.
account_days as (
    select subject_id, threshold_currency, any_value(threshold) as threshold, day,
           count(*) as credits, sum(compared_amount) as amount
    from below_threshold
    group by subject_id, threshold_currency, day
),

-- accounts whose whole export cannot reach the threshold need no windows at all
reaching_accounts as (
    select subject_id, threshold_currency
    from account_days
    group by subject_id, threshold_currency
    having sum(credits) >= $min_depositors and sum(amount) >= any_value(threshold)
),

candidate_accounts as (
    select distinct subject_id, threshold_currency
    from (
        select
            d.subject_id,
            d.threshold_currency,
            d.threshold,
            sum(d.credits) over w as credit_count,
            sum(d.amount) over w as amount
        from account_days d
        semi join reaching_accounts r
            on r.subject_id = d.subject_id and r.threshold_currency = d.threshold_currency
        window w as (
            partition by subject_id, threshold_currency order by day
            range between current row and ($window_days - 1) following
        )
    )
    where credit_count >= $min_depositors
      and amount >= threshold
),

-- a sender paying the account in several calendar months is a standing relationship
recurring_pairs as (
    select c.src_account, c.subject_id
    from credits c
    semi join (select distinct subject_id from candidate_accounts) a on a.subject_id = c.subject_id
    where c.src_account <> cash_account()
    group by c.src_account, c.subject_id
    having count(distinct date_trunc('month', c.day)) >= $recurring_months
),

candidates as materialized (
    select b.*
    from below_threshold b
    semi join candidate_accounts c
        on c.subject_id = b.subject_id and c.threshold_currency = b.threshold_currency
    anti join recurring_pairs r on r.src_account = b.src_account and r.subject_id = b.subject_id
),

-- one row per account, threshold currency, depositor and day
depositor_days as (
    select subject_id, threshold_currency as part, depositor as member, day
    from candidates
    group by all
),

day_totals as (
    select subject_id, threshold_currency, day, sum(compared_amount) as amount
    from candidates
    group by all
),

-- exact distinct depositors of every window [d, d + window_days - 1] by a sweep over day
-- offsets instead of a join (see distinct_day_sweep in sql/macros): the running sum of
-- the deltas at a start day is the number of distinct depositors of that window
sweep_events as (
    select
        subject_id, part as threshold_currency, point,
        delta as depositors, 0::decimal(38, 4) as amount, false as is_start
    from distinct_day_sweep(depositor_days, $window_days)
    -- amounts enter the windows the same way (no double counting to undo)
    union all
    select subject_id, threshold_currency, day - ($window_days - 1)::integer, 0, amount, false
    from day_totals
    union all
    select subject_id, threshold_currency, day + 1, 0, -amount, false
    from day_totals
    -- windows start on days with credits
    union all
    select subject_id, threshold_currency, day, 0, 0, true
    from day_totals
),

windows as (
    select
        subject_id,
        threshold_currency,
        point as window_day,
        bool_or(is_start) as is_start,
        sum(sum(depositors)) over w as depositors,
        sum(sum(amount)) over w as amount
    from sweep_events
    group by subject_id, threshold_currency, point
    window w as (
        partition by subject_id, threshold_currency order by point
        rows between unbounded preceding and current row
    )
),

thresholds as (
    select distinct threshold_currency, threshold from candidates
),

qualifying as (
    select
        w.subject_id,
        w.window_day as window_start,
        w.window_day + ($window_days - 1)::integer as window_limit
    from windows w
    join thresholds t using (threshold_currency)
    where w.is_start
      -- FC23 / FT16: deposits by several people or at several branches ...
      and w.depositors >= $min_depositors
      -- ... that together reach the threshold each of them stays under
      and w.amount >= t.threshold
),

-- overlapping qualifying windows of one account form one episode (calendar days)
episode_bounds as (
    select * from merged_windows(qualifying)
),

evidence_rows as (
    select
        *,
        case
            when src_account = cash_account()
                then 'cash deposit of ' || format('{:,.2f}', amount::double) || ' ' || currency
                     || ' at ' || depositor
            else replace(channel, '_', ' ') || ' of ' || format('{:,.2f}', amount::double) || ' '
                 || currency || ' from ' || src_account
            end
            || ', under the ' || format('{:,.0f}', threshold::double) || ' ' || threshold_currency
            || ' threshold' as why
    from episode_day_rows(episode_bounds, candidates)
),

episode_facts as (
    select
        subject_id,
        episode,
        count(distinct depositor) filter (where src_account = cash_account()) as branches,
        count(distinct depositor) filter (where src_account <> cash_account()) as senders,
        min(threshold) as threshold,
        min(threshold_currency) as threshold_currency,
        date_diff('day', min(day), max(day)) + 1 as days
    from evidence_rows
    group by subject_id, episode
),

final as (
    select
        subject_id,
        window_start,
        window_end,
        tx_count,
        amount_total,
        evidence,
        (branches + senders) || ' depositors ('
            || concat_ws(', ',
                case when branches > 0 then branches || case when branches = 1 then ' branch' else ' branches' end end,
                case when senders > 0 then senders || case when senders = 1 then ' sender' else ' senders' end end)
            || ') paid in '
            || money_text(amount_own, amount_total, one_currency, currency)
            || ' in ' || tx_count || ' credits within ' || days || case when days = 1 then ' day' else ' days' end
            || ', each under the ' || format('{:,.0f}', threshold::double) || ' ' || threshold_currency
            || ' threshold' as reason,
        'collector' as likely_role
    -- amounts are quoted in their own currency when the episode has only one
    from episode_hits(evidence_rows) h
    join episode_facts f using (subject_id, episode)
)

select * from final
