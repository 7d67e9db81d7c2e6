-- STR-01: cash deposits or withdrawals just under the reporting threshold, close in time.
with cash as (
    select
        t.tx_id,
        t.timestamp,
        t.amount,
        t.currency,
        t.amount_rep,
        t.channel,
        case when t.channel = 'cash_deposit' then t.dst_account else t.src_account end as subject_id,
        -- the threshold of the transaction's own currency; otherwise the default one,
        -- compared with the amount converted into the reporting currency
        coalesce(th.threshold, $default_threshold) as threshold,
        case when th.threshold is null then t.amount_rep else t.amount end as compared_amount,
        case when th.threshold is null then 'reporting currency' else t.currency end as threshold_currency
    from transactions t
    left join ref_cash_threshold th on th.currency = t.currency
    where t.channel in ('cash_deposit', 'cash_withdrawal')
),

near_threshold as (
    select *
    from cash
    where compared_amount >= $band_ratio * threshold and compared_amount < threshold
),

-- each near-threshold transaction opens a long window (long_window_days) and a short one
-- (short_window_hours); the long one counts where it holds min_count_long of them, else
-- the short one where it holds min_count_short
long_windows as (
    select * from anchored_windows(near_threshold, to_days($long_window_days), $min_count_long)
),

short_windows as (
    select s.*
    from anchored_windows(near_threshold, to_hours($short_window_hours), $min_count_short) s
    anti join long_windows l on l.subject_id = s.subject_id and l.window_start = s.window_start
),

qualifying as (
    select * from long_windows
    union all
    select * from short_windows
),

-- overlapping qualifying windows of one account form one episode
episode_bounds as (
    select * from merged_windows(qualifying)
),

final as (
    select
        e.subject_id,
        min(n.timestamp) as window_start,
        max(n.timestamp) as window_end,
        count(*) as tx_count,
        sum(n.amount_rep) as amount_total,
        list({'tx_id': n.tx_id,
              'why': replace(n.channel, '_', ' ') || ' of ' || format('{:,.2f}', n.amount::double)
                     || ' ' || n.currency || ', under the threshold of '
                     || format('{:,.0f}', n.threshold::double) || ' ' || n.threshold_currency}
             order by n.timestamp, n.tx_id) as evidence,
        count(*) || ' cash ' || case
            when count(distinct n.channel) > 1 then 'transactions'
            when min(n.channel) = 'cash_deposit' then 'deposits'
            else 'withdrawals' end
            || ' of ' || format('{:,.2f}', min(n.amount)::double) || '–'
            || format('{:,.2f}', max(n.amount)::double) || ' ' || min(n.currency)
            || ' within ' || case
                when date_diff('hour', min(n.timestamp), max(n.timestamp)) < 48
                    then greatest(1, date_diff('hour', min(n.timestamp), max(n.timestamp))) || ' hours'
                else date_diff('day', min(n.timestamp), max(n.timestamp)) || ' days' end
            || ', each under the ' || format('{:,.0f}', min(n.threshold)::double)
            || ' reporting threshold' as reason,
        'mule' as likely_role
    from episode_bounds e
    join near_threshold n
        on n.subject_id = e.subject_id
        and n.timestamp >= e.episode_start
        and n.timestamp <= e.episode_limit
    group by e.subject_id, e.episode
)

select * from final
