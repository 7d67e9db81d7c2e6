-- SEX-06: cash deposits and withdrawals between 22:00 and 06:00, frequent and making up
-- most of the account's cash.
--
-- Cash events are bucketed by "night": the night of day d runs from night_start_hour on d
-- to night_end_hour on d + 1, so a deposit at 01:30 belongs to the evening before. A
-- window qualifies when night cash falls on at least min_nights different nights within
-- burst_days, and the window_days from that night hold at least min_night_cash night-time
-- cash events making up at least min_night_share of all cash events. The burst is what
-- separates nightly handling of cash from a night-shift worker's weekly withdrawal.
with business_accounts as (
    select account_id from accounts where customer_type = 'business'
),

cash_events as (
    select
        case when t.channel = 'cash_deposit' then t.dst_account else t.src_account end as subject_id,
        t.tx_id,
        t.timestamp,
        t.amount,
        t.currency,
        t.amount_rep,
        t.channel,
        nullif(trim(t.merchant_city), '') as city,
        hour(t.timestamp) >= $night_start_hour or hour(t.timestamp) < $night_end_hour as is_night,
        -- the 06:00-to-06:00 day the event belongs to
        (t.timestamp - to_hours($night_end_hour))::date as bucket
    from transactions t
    where t.channel in ('cash_deposit', 'cash_withdrawal')
),

-- only accounts with night cash at all are looked at further
subjects as (
    select subject_id
    from cash_events
    where is_night and subject_id <> cash_account()
    group by subject_id
    having count(*) >= $min_night_cash
),

subject_cash as materialized (
    select c.*
    from cash_events c
    semi join subjects s on s.subject_id = c.subject_id
    -- victims are individuals; a bar banking its takings at night is BIZ-01's question
    where c.subject_id not in (select account_id from business_accounts)
),

night_days as (
    select
        subject_id,
        bucket,
        count(*) filter (where is_night) as n_night,
        count(*) as n_cash
    from subject_cash
    group by subject_id, bucket
),

anchored as (
    select
        subject_id,
        bucket,
        n_night,
        count(*) filter (where n_night > 0) over burst as nights_in_burst,
        sum(n_night) over long_window as night_in_window,
        sum(n_cash) over long_window as cash_in_window
    from night_days
    window
        burst as (
            partition by subject_id order by bucket
            range between current row and ($burst_days - 1) following
        ),
        long_window as (
            partition by subject_id order by bucket
            range between current row and ($window_days - 1) following
        )
),

qualifying as (
    select
        subject_id,
        bucket::timestamp as window_start,
        (bucket + ($window_days - 1)::integer)::timestamp as window_limit
    from anchored
    where n_night > 0
      and nights_in_burst >= $min_nights
      and night_in_window >= $min_night_cash
      and night_in_window >= $min_night_share * cash_in_window
),

-- overlapping qualifying windows of one account form one episode
episode_bounds as (
    select * from merged_windows(qualifying)
),

episode_cash as (
    select e.episode, c.*
    from episode_bounds e
    join subject_cash c
        on c.subject_id = e.subject_id
        and c.bucket >= e.episode_start::date
        and c.bucket <= e.episode_limit::date
),

-- the night-time cash is the evidence; the reason sets it against all cash of the period
evidence_rows as (
    select
        *,
        replace(channel, '_', ' ') || ' of ' || format('{:,.2f}', amount::double) || ' '
            || currency || ' at ' || strftime(timestamp, '%H:%M') || coalesce(' in ' || city, '')
            as why
    from episode_cash
    where is_night
),

episode_facts as (
    select
        subject_id,
        episode,
        count(distinct bucket) filter (where is_night) as n_nights,
        date_diff('day', min(bucket) filter (where is_night), max(bucket) filter (where is_night)) + 1
            as n_days,
        count(*) as n_cash,
        count(*) filter (where is_night and channel = 'cash_deposit') as n_deposits,
        count(*) filter (where is_night and channel = 'cash_withdrawal') as n_withdrawals
    from episode_cash
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
        tx_count || ' cash transactions between '
            || lpad($night_start_hour::varchar, 2, '0') || ':00 and '
            || lpad($night_end_hour::varchar, 2, '0') || ':00 on ' || n_nights || ' nights within '
            || n_days || ' days ('
            || concat_ws(', ',
                case when n_deposits > 0 then n_deposits || ' deposit'
                     || case when n_deposits > 1 then 's' else '' end end,
                case when n_withdrawals > 0 then n_withdrawals || ' withdrawal'
                     || case when n_withdrawals > 1 then 's' else '' end end)
            || '; '
            || money_text(amount_own, amount_total, one_currency, currency)
            || '); ' || tx_count || ' of ' || n_cash || ' cash transactions in the period were at night'
            as reason,
        'victim' as likely_role
    from episode_totals
)

select * from final
