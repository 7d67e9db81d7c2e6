-- STR-03: wire transfers kept just under the 3,000 USD funds-transfer recordkeeping
-- threshold, several within a week to one beneficiary.
--
-- A transfer counts when its channel is in channels and its amount in the reporting
-- currency lies in [band_low, threshold). The beneficiary (dst_account) is the subject:
-- every counted transfer opens a window of window_days and the window qualifies with
-- min_transfers counted transfers, from one sender or several. Overlapping windows make
-- one hit.
with band_transfers as materialized (
    select
        dst_account as subject_id,
        src_account as sender,
        tx_id,
        timestamp,
        amount,
        currency,
        amount_rep,
        channel
    from transactions
    where list_contains($channels::varchar[], channel)
      and src_account <> cash_account()
      and dst_account <> cash_account()
      and amount_rep >= $band_low
      and amount_rep < $threshold
),

-- each transfer opens a window of window_days; it qualifies with min_transfers inside
qualifying as (
    select * from anchored_windows(band_transfers, to_days($window_days), $min_transfers)
),

-- overlapping qualifying windows of one beneficiary form one episode
episode_bounds as (
    select * from merged_windows(qualifying)
),

evidence_rows as (
    select e.episode, b.*
    from episode_bounds e
    join band_transfers b
        on b.subject_id = e.subject_id
        and b.timestamp >= e.episode_start
        and b.timestamp <= e.episode_limit
),

episode_totals as (
    select
        subject_id,
        episode,
        min(timestamp) as window_start,
        max(timestamp) as window_end,
        count(*) as tx_count,
        sum(amount_rep) as amount_total,
        list({'tx_id': tx_id,
              'why': replace(channel, '_', ' ') || ' of ' || format('{:,.2f}', amount::double)
                     || ' ' || currency || ' from ' || sender || ', just under the '
                     || format('{:,.0f}', $threshold::double) || ' recordkeeping threshold'
                     || case when currency <> 'USD' or amount <> amount_rep
                             then ' (' || format('{:,.2f}', amount_rep::double) || ' reporting currency)'
                             else '' end}
             order by timestamp, tx_id) as evidence,
        count(distinct sender) as senders,
        count(distinct currency) = 1 as one_currency,
        min(currency) as currency,
        min(amount) as min_amount,
        max(amount) as max_amount,
        min(amount_rep) as min_rep,
        max(amount_rep) as max_rep,
        string_agg(distinct replace(channel, '_', ' '), '/' order by replace(channel, '_', ' ')) as channels
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
        tx_count || ' ' || channels || ' transfers of '
            || case
                when one_currency
                    then format('{:,.2f}', min_amount::double) || '–' || format('{:,.2f}', max_amount::double)
                         || ' ' || currency
                else format('{:,.2f}', min_rep::double) || '–' || format('{:,.2f}', max_rep::double)
                     || ' (reporting currency)' end
            || ' from ' || senders || case when senders = 1 then ' sender' else ' senders' end
            || ' to this beneficiary within '
            || case
                when date_diff('hour', window_start, window_end) <= 1 then '1 hour'
                when date_diff('hour', window_start, window_end) < 48
                    then date_diff('hour', window_start, window_end) || ' hours'
                else date_diff('day', window_start, window_end) || ' days' end
            || ', each just under the ' || format('{:,.0f}', $threshold::double)
            || ' recordkeeping threshold' as reason,
        'collector' as likely_role
    from episode_totals
)

select * from final
