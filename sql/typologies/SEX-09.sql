-- SEX-09: frequent low-value parking payments (MCC group parking, 7523).
--
-- Parking payments of at most max_amount (reporting currency) by a non-business
-- account; a window of window_days qualifies with at least min_payments of them.
with business_accounts as (
    select account_id from accounts where customer_type = 'business'
),

-- customer-side parking payments (card_purchases: an operator refunding eight drivers is
-- not parking)
small_parking as materialized (
    select p.*
    from card_purchases p
    where p.mcc in (select mcc from ref_mcc_groups where mcc_group = 'parking')
      -- FT21: low-value payments; a daily garage above max_amount is a commuter's
      and p.amount_rep <= $max_amount
      -- a delivery or trades business parking all day is not a victim
      and p.subject_id not in (select account_id from business_accounts)
),

qualifying as (
    select * from count_windows(small_parking, to_days($window_days), $min_payments)
),

-- overlapping qualifying windows of one account form one episode
episode_bounds as (
    select * from merged_windows(qualifying)
),

evidence_rows as (
    select
        *,
        'parking payment of ' || format('{:,.2f}', amount::double) || ' ' || currency
            || ' to ' || merchant || coalesce(' in ' || city, '') as why
    from episode_rows(episode_bounds, small_parking)
),

episode_facts as (
    select
        subject_id,
        episode,
        count(distinct merchant_id) as n_operators,
        count(distinct city) as n_cities,
        min(amount) as min_amount,
        max(amount) as max_amount,
        min(amount_rep) as min_rep,
        max(amount_rep) as max_rep
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
        tx_count || ' parking payments of '
            || money_range_text(min_amount, max_amount, min_rep, max_rep, one_currency, currency)
            || ' within ' || greatest(1, date_diff('day', window_start, window_end)) || ' days at '
            || n_operators || case when n_operators = 1 then ' operator' else ' operators' end
            || case when n_cities > 0
                then ' in ' || n_cities || case when n_cities = 1 then ' city' else ' cities' end
                else '' end
            || ', each at most ' || format('{:,.2f}', $max_amount::double) || ' (reporting currency)'
            as reason,
        'victim' as likely_role
    from episode_totals
)

select * from final
