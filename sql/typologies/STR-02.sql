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
-- The bounds read a few narrow columns of every credit under its threshold, with the
-- account as the 64-bit hash of its id: accounts sharing a hash add up their credits and
-- amounts, which only raises the bounds, so no account that qualifies is dropped. Only
-- the accounts left are read in full.
-- the credits by the channels with the threshold each is compared with: the threshold
-- of the credit's own currency, otherwise the default one compared with the amount
-- converted into the reporting currency (inlined into both reads below, each reading
-- only the columns it selects)
with thresholded_credits as not materialized (
    select
        t.*,
        coalesce(th.threshold, $default_threshold) as threshold,
        case when th.threshold is null then t.amount_rep else t.amount end as compared_amount,
        case when th.threshold is null then 'reporting currency' else t.currency end as threshold_currency
    from transactions t
    semi join (select unnest($channels::varchar[]) as channel) c on c.channel = t.channel
    left join ref_cash_threshold th on th.currency = t.currency
    where t.dst_account <> cash_account()
      and t.src_account <> t.dst_account
),

credit_amounts as materialized (
    select
        hash(dst_account) as subject_key, threshold_currency, threshold, day, compared_amount
    from thresholded_credits
    where compared_amount < threshold
),

-- Cheap bound first: the credits of a window bound its distinct depositors from above,
-- and its amount before recurring senders are dropped bounds the counted amount.
-- Accounts whose windows never reach both the minimum depositors and the threshold
-- cannot qualify; only the others are read further. Accounts whose whole export cannot
-- reach them need no windows at all.
reaching_accounts as (
    select subject_key, threshold_currency
    from credit_amounts
    group by subject_key, threshold_currency
    having count(*) >= $min_depositors and sum(compared_amount) >= any_value(threshold)
),

account_days as (
    select subject_key, threshold_currency, any_value(threshold) as threshold, day,
           count(*) as credits, sum(compared_amount) as amount
    from credit_amounts c
    semi join reaching_accounts r using (subject_key, threshold_currency)
    group by subject_key, threshold_currency, day
),

candidate_accounts as materialized (
    select distinct subject_key, threshold_currency
    from (
        select
            subject_key,
            threshold_currency,
            threshold,
            sum(credits) over w as credit_count,
            sum(amount) over w as amount
        from account_days
        window w as (
            partition by subject_key, threshold_currency order by day
            range between current row and ($window_days - 1) following
        )
    )
    where credit_count >= $min_depositors
      and amount >= threshold
),

-- every credit of the candidate accounts, in full (those at or over the threshold too:
-- they show standing relationships); accounts sharing the hash of a candidate are read
-- too and only cost time
credits as materialized (
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
        t.threshold,
        t.compared_amount,
        t.threshold_currency
    from thresholded_credits t
    semi join (select distinct subject_key from candidate_accounts) a on a.subject_key = hash(t.dst_account)
),

-- a sender paying the account in several calendar months is a standing relationship
recurring_pairs as (
    select src_account, subject_id
    from credits
    where src_account <> cash_account()
    group by src_account, subject_id
    having count(distinct date_trunc('month', day)) >= $recurring_months
),

-- the credits under the threshold of the candidate accounts, recurring senders left out,
-- each with its depositor key
candidates as materialized (
    select
        c.*,
        case
            when c.src_account = cash_account()
                then 'branch ' || coalesce(nullif(concat_ws(' / ', c.src_bank, c.merchant_city), ''), 'unknown')
            else 'sender ' || c.src_account
        end as depositor
    from credits c
    semi join candidate_accounts a
        on a.subject_key = hash(c.subject_id) and a.threshold_currency = c.threshold_currency
    anti join recurring_pairs r on r.src_account = c.src_account and r.subject_id = c.subject_id
    where c.compared_amount < c.threshold
),

-- one row per account, threshold currency, depositor and day
candidate_depositor_days as (
    select subject_id, threshold_currency as part, depositor as member, day
    from candidates
    group by all
),

-- per account, threshold currency and day: distinct depositors and amount
candidate_days as (
    select subject_id, threshold_currency, day, count(distinct depositor) as depositors,
           sum(compared_amount) as amount, any_value(threshold) as threshold
    from candidates
    group by subject_id, threshold_currency, day
),

-- A window's distinct depositors are at most the sum of its days' distinct depositors.
-- Only the days of a window whose sum and amount reach the minimums can belong to a
-- qualifying window; every day of a qualifying window is kept, so its counts below are
-- exact, and any other window only loses members.
counted_days as (
    select distinct subject_id, threshold_currency, day + day_offset::integer as day
    from (
        select
            subject_id,
            threshold_currency,
            day,
            threshold,
            sum(depositors) over w as depositor_bound,
            sum(amount) over w as amount
        from candidate_days
        window w as (
            partition by subject_id, threshold_currency order by day
            range between current row and ($window_days - 1) following
        )
    ), unnest(range($window_days)) as o(day_offset)
    where depositor_bound >= $min_depositors
      and amount >= threshold
),

-- the units of the exact counts, on the kept days only
depositor_days as (
    select d.*
    from candidate_depositor_days d
    semi join counted_days c
        on c.subject_id = d.subject_id and c.threshold_currency = d.part and c.day = d.day
),

day_totals as (
    select subject_id, threshold_currency, day, amount
    from candidate_days
    semi join counted_days using (subject_id, threshold_currency, day)
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
