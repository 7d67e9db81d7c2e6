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
    select * from count_windows(near_threshold, to_days($long_window_days), $min_count_long)
),

short_windows as (
    select s.*
    from count_windows(near_threshold, to_hours($short_window_hours), $min_count_short) s
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

evidence_rows as (
    select
        n.*,
        replace(n.channel, '_', ' ') || ' of ' || format('{:,.2f}', n.amount::double)
            || ' ' || n.currency || ', under the threshold of '
            || format('{:,.0f}', n.threshold::double) || ' ' || n.threshold_currency as why
    from episode_rows(episode_bounds, near_threshold) n
),

episode_facts as (
    select
        subject_id,
        episode,
        count(distinct channel) as channels,
        min(channel) as channel,
        min(amount) as min_amount,
        max(amount) as max_amount,
        min(threshold) as threshold
    from evidence_rows
    group by subject_id, episode
),

final as (
    select
        h.subject_id,
        h.window_start,
        h.window_end,
        h.tx_count,
        h.amount_total,
        h.evidence,
        h.tx_count || ' cash ' || case
            when f.channels > 1 then 'transactions'
            when f.channel = 'cash_deposit' then 'deposits'
            else 'withdrawals' end
            || ' of ' || format('{:,.2f}', f.min_amount::double) || '–'
            || format('{:,.2f}', f.max_amount::double) || ' ' || h.currency
            || ' within ' || case
                when date_diff('hour', h.window_start, h.window_end) < 48
                    then greatest(1, date_diff('hour', h.window_start, h.window_end)) || ' hours'
                else date_diff('day', h.window_start, h.window_end) || ' days' end
            || ', each under the ' || format('{:,.0f}', f.threshold::double)
            || ' reporting threshold' as reason,
        'mule' as likely_role
    from episode_hits(evidence_rows) h
    join episode_facts f using (subject_id, episode)
)

select * from final
