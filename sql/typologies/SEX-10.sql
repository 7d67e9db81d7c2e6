-- SEX-10: payments to inmate-telecom providers (jail collect calls, inmate accounts).
--
-- A payment counts when its merchant descriptor matches an inmate_telecom pattern of the
-- merchant descriptor list. Context only: every payment qualifies; payments of one
-- account at most window_days apart form one hit.
-- descriptors on the inmate-telecom list (matched once per scan in merchant_categories)
with inmate_names as (
    select merchant_name
    from merchant_categories
    where category = 'inmate_telecom'
),

business_accounts as (
    select account_id from accounts where customer_type = 'business'
),

-- customer-side payments to those providers (card_purchases: the provider's refunds must
-- not make it a subject)
inmate_payments as materialized (
    select p.*
    from card_purchases p
    semi join inmate_names n on n.merchant_name = p.merchant_name
    where p.subject_id not in (select account_id from business_accounts)
),

qualifying as (
    select subject_id, timestamp as window_start, timestamp + to_days($window_days) as window_limit
    from inmate_payments
),

-- payments at most window_days apart form one episode
episode_bounds as (
    select * from merged_windows(qualifying)
),

evidence_rows as (
    select
        *,
        replace(channel, '_', ' ') || ' payment of ' || format('{:,.2f}', amount::double)
            || ' ' || currency || ' to ' || merchant_name || ' (inmate calls / inmate accounts)'
            as why
    from episode_rows(episode_bounds, inmate_payments)
),

episode_facts as (
    select
        subject_id,
        episode,
        list_sort(list_distinct(list(merchant_name))) as providers
    from evidence_rows
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
        tx_count || case when tx_count = 1 then ' payment' else ' payments' end
            || ' to inmate-telecom providers ('
            || array_to_string(list_slice(providers, 1, 3), ', ')
            || case when len(providers) > 3 then ' and ' || (len(providers) - 3) || ' more' else '' end
            || ') totalling '
            || money_text(amount_own, amount_total, one_currency, currency)
            || case
                when tx_count = 1 then ''
                else ' within ' || greatest(1, date_diff('day', window_start, window_end)) || ' days' end
            as reason,
        'victim' as likely_role
    from episode_totals
)

select * from final
