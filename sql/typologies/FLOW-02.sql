-- FLOW-02: an account silent for a long time that suddenly moves far more money than it
-- used to.
with candidates as (
    -- the shared feature table already knows each account's longest silence
    select account_id from account_features where longest_gap_days >= $dormant_days
),

-- the candidates' incoming and outgoing legs (the shared account_legs table)
legs as (
    select account_id, tx_id, timestamp, day, amount_rep, direction
    from account_legs
    where account_id in (select account_id from candidates)
),

active_days as (
    select account_id, day, sum(amount_rep) as turnover
    from legs group by all
),

gaps as (
    select account_id, day, day - lag(day) over (partition by account_id order by day) as gap_days
    from active_days
),

-- the first active day after each silence of at least dormant_days
reactivations as (
    select account_id, day as reactivated_on, gap_days
    from gaps
    where gap_days >= $dormant_days
),

history as (
    -- monthly turnover before the silence: the account's own normal
    select r.account_id, r.reactivated_on,
           median(m.turnover) as prior_monthly_median
    from reactivations r
    join (
        select account_id, date_trunc('month', day) as month, sum(turnover) as turnover
        from active_days group by all
    ) m on m.account_id = r.account_id
        -- months up to the last active day before the silence
        and m.month <= date_trunc('month', r.reactivated_on - r.gap_days::integer)
    group by all
),

burst as (
    select r.account_id, r.reactivated_on, r.gap_days, h.prior_monthly_median,
           l.tx_id, l.timestamp, l.amount_rep, l.direction
    from reactivations r
    left join history h using (account_id, reactivated_on)
    join legs l
        on l.account_id = r.account_id
        and l.day >= r.reactivated_on
        and l.day < r.reactivated_on + to_days($burst_days)
),

final as (
    select
        account_id as subject_id,
        min(timestamp) as window_start,
        max(timestamp) as window_end,
        count(*) as tx_count,
        sum(amount_rep) as amount_total,
        list({'tx_id': tx_id,
              'why': case direction when 'in' then 'received ' else 'sent ' end
                     || format('{:,.2f}', amount_rep::double) || ' after the silence'}
             order by timestamp, tx_id) as evidence,
        'silent for ' || max(gap_days) || ' days, then moved '
            || format('{:,.2f}', sum(amount_rep)::double) || ' in '
            || count(*) || ' transactions within ' || $burst_days || ' days'
            || case when max(prior_monthly_median) is null then ' (no earlier activity)'
                    else ' (' || format('{:,.1f}', (sum(amount_rep)
                         / max(prior_monthly_median))::double) || ' times the earlier monthly median)'
               end as reason,
        'mule' as likely_role
    from burst
    group by account_id, reactivated_on
    having sum(amount_rep) >= $min_turnover
        and (max(prior_monthly_median) is null
             or sum(amount_rep) >= $turnover_multiple * max(prior_monthly_median))
)

select * from final
