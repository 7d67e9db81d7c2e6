-- {{id}}: {{title}}
-- Template decision: an account credited by at least $min_senders distinct senders on one
-- calendar day. Replace the steps with the typology's own; keep the columns of `final`
-- (README, "Writing a typology") and read shared models (account_features,
-- merchant_categories, wage_credits, the macros of sql/macros) instead of copying them.
with credits as (
    -- transfers between two accounts: cash has no identifiable sender
    select dst_account as subject_id, src_account as sender, tx_id, timestamp, day,
           amount_rep
    from transactions
    where src_account <> cash_account() and dst_account <> cash_account()
),

busy_days as (
    select subject_id, day, count(distinct sender) as senders
    from credits
    group by subject_id, day
    having count(distinct sender) >= $min_senders
),

final as (
    select
        c.subject_id,
        min(c.timestamp) as window_start,
        max(c.timestamp) as window_end,
        count(*) as tx_count,
        sum(c.amount_rep) as amount_total,
        list({'tx_id': c.tx_id, 'why': 'credit from ' || c.sender}
             order by c.timestamp, c.tx_id) as evidence,
        any_value(b.senders) || ' distinct senders credited the account on ' || c.day
            as reason,
        'collector' as likely_role
    from credits c
    join busy_days b using (subject_id, day)
    group by c.subject_id, c.day
)

select * from final
