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
    select * from count_windows(band_transfers, to_days($window_days), $min_transfers)
),

-- overlapping qualifying windows of one beneficiary form one episode
episode_bounds as (
    select * from merged_windows(qualifying)
),

evidence_rows as (
    select
        *,
        replace(channel, '_', ' ') || ' of ' || format('{:,.2f}', amount::double)
            || ' ' || currency || ' from ' || sender || ', just under the '
            || format('{:,.0f}', $threshold::double) || ' recordkeeping threshold'
            || case when currency <> 'USD' or amount <> amount_rep
                    then ' (' || format('{:,.2f}', amount_rep::double) || ' reporting currency)'
                    else '' end as why
    from episode_rows(episode_bounds, band_transfers)
),

episode_facts as (
    select
        subject_id,
        episode,
        count(distinct sender) as senders,
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
            || money_range_text(min_amount, max_amount, min_rep, max_rep, one_currency, currency)
            || ' from ' || senders || case when senders = 1 then ' sender' else ' senders' end
            || ' to this beneficiary within '
            || span_text(window_start, window_end)
            || ', each just under the ' || format('{:,.0f}', $threshold::double)
            || ' recordkeeping threshold' as reason,
        'collector' as likely_role
    -- amounts are quoted in their own currency when the episode has only one
    from episode_hits(evidence_rows) h
    join episode_facts f using (subject_id, episode)
)

select * from final
