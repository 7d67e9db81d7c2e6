-- FLOW-03: many transfers in round amounts (multiples of 100) within 30 days.
with transfers as (
    -- money sent by transfer; ATM withdrawals are round by construction, and round sums
    -- received (rent, salaries) say nothing about the receiver
    select src_account as subject_id, dst_account as counterparty, tx_id, timestamp, amount,
           currency, amount_rep, 'sent' as direction
    from transactions
    where channel not in ('card', 'cash_withdrawal', 'cash_deposit')
        and amount_rep >= $min_amount
),

all_flagged as (
    select *, amount % 100 = 0 as is_round
    from transfers
    where subject_id <> cash_account()
),

-- only accounts with enough round transfers overall can have a qualifying window
candidates as (
    select subject_id
    from all_flagged
    group by subject_id
    having count(*) filter (where is_round) >= $min_count
),

flagged as (
    select * from all_flagged where subject_id in (select subject_id from candidates)
),

-- each round transfer opens a window; count round and all transfers inside it
anchored as (
    select
        subject_id,
        timestamp as window_start,
        is_round,
        count(*) filter (where is_round) over w as round_count,
        count(*) over w as all_count
    from flagged
    window w as (
        partition by subject_id order by timestamp
        range between current row and to_days($window_days) following
    )
),

qualifying as (
    select subject_id, window_start, window_start + to_days($window_days) as window_limit
    from anchored
    where is_round
        and round_count >= $min_count
        and round_count >= $min_share * all_count
),

-- overlapping qualifying windows of one account form one episode
episode_bounds as (
    select * from merged_windows(qualifying)
),

evidence_rows as (
    select
        f.*,
        f.direction || ' round amount ' || format('{:,.2f}', f.amount::double) || ' ' || f.currency as why
    from episode_rows(episode_bounds, flagged) f
    where f.is_round
),

episode_facts as (
    select
        subject_id,
        episode,
        count(distinct counterparty) as counterparties,
        min(amount) as min_amount,
        max(amount) as max_amount
    from evidence_rows
    group by subject_id, episode
    having count(distinct counterparty) >= $min_counterparties
),

final as (
    select
        h.subject_id,
        h.window_start,
        h.window_end,
        h.tx_count,
        h.amount_total,
        h.evidence,
        h.tx_count || ' transfers in round hundreds ('
            || format('{:,.0f}', f.min_amount::double) || '–'
            || format('{:,.0f}', f.max_amount::double) || ') with '
            || f.counterparties || ' counterparties in '
            || greatest(1, date_diff('day', h.window_start, h.window_end)) || ' days' as reason,
        'mule' as likely_role
    from episode_hits(evidence_rows) h
    join episode_facts f using (subject_id, episode)
)

select * from final
