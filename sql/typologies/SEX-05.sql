-- SEX-05: living-cost basket out of profile (fast food, restaurants and food delivery,
-- pharmacy, lingerie / cosmetics / beauty, taxi and ride-hail).
--
-- The account must be out of profile: its basket share of card spend is at least
-- min_basket_share and above the peer_quantile of its peer group (customer type and
-- segment from account_features, among accounts with min_card_payments card payments or
-- more: a share over one or two payments is 0% or 100% and says nothing); with fewer than min_peers accounts in the group the
-- quantile is meaningless and the floor alone decides. A window of window_days then
-- qualifies when it holds min_basket_txns basket payments, or food-delivery orders of
-- min_orders_per_day or more on min_busy_days different days (food for several people).
with basket_codes as (
    select
        mcc,
        list_sort(list_distinct(list(mcc_group))) as groups,
        bool_or(mcc_group = 'food_delivery') as is_food_delivery
    from ref_mcc_groups
    where list_contains($basket_groups::varchar[], mcc_group)
    group by mcc
),

business_accounts as (
    select account_id from accounts where customer_type = 'business'
),

-- every account's card payments and basket spend in one pass over the customer-side card
-- payments (card_purchases: a pharmacy refunding customers has no basket of its own)
card_profile as (
    select
        p.subject_id as account_id,
        count(*) as card_payments,
        sum(p.amount_rep) filter (where b.mcc is not null)::double as basket_amount
    from card_purchases p
    left join (select mcc from basket_codes) b on b.mcc = p.mcc
    where p.channel = 'card'
    group by p.subject_id
),

-- basket share of card spend for every account that uses the card routinely: a share
-- over a handful of card payments (one lunch is 100% basket) describes no spending
-- profile, neither the subject's nor a peer's
shares as (
    select
        f.account_id,
        coalesce(f.customer_type, '') as customer_type,
        coalesce(f.segment, '') as segment,
        least(1.0, coalesce(u.basket_amount, 0) / (f.card_spend_share * f.out_amount)) as share
    from account_features f
    join card_profile u using (account_id)
    where f.card_spend_share > 0 and f.out_amount > 0
      and u.card_payments >= $min_card_payments
),

-- FT16 / FC20 #2: spending inconsistent with the profile
out_of_profile as (
    select account_id as subject_id, share as basket_share, peer_level, peers
    from peer_outliers(shares, $peer_quantile, $min_basket_share, $min_peers)
    -- victims are individuals; a business buying staff meals is LAB-05's question
    where account_id not in (select account_id from business_accounts)
),

-- the basket payments of the accounts out of profile, read in full
candidate_payments as materialized (
    select
        b.*,
        c.groups,
        c.is_food_delivery
    from card_purchases b
    semi join out_of_profile o on o.subject_id = b.subject_id
    join basket_codes c on c.mcc = b.mcc
    where b.channel = 'card'
),

basket_days as (
    select
        subject_id,
        day,
        count(*) as n_basket,
        count(*) filter (where is_food_delivery) as n_food
    from candidate_payments
    group by subject_id, day
),

anchored as (
    select
        subject_id,
        day,
        sum(n_basket) over w as basket_in_window,
        count(*) filter (where n_food >= $min_orders_per_day) over w as busy_days_in_window
    from basket_days
    window w as (
        partition by subject_id order by day
        range between current row and ($window_days - 1) following
    )
),

qualifying as (
    select
        subject_id,
        day::timestamp as window_start,
        (day + ($window_days - 1)::integer)::timestamp as window_limit
    from anchored
    where basket_in_window >= $min_basket_txns
       or busy_days_in_window >= $min_busy_days
),

-- overlapping qualifying windows of one account form one episode
episode_bounds as (
    select * from merged_windows(qualifying)
),

episode_payments as (
    select
        e.episode,
        p.*,
        count(*) filter (where p.is_food_delivery) over (partition by p.subject_id, p.day)
            as food_orders_that_day
    from episode_bounds e
    join candidate_payments p
        on p.subject_id = e.subject_id
        and p.day >= e.episode_start::date
        and p.day <= e.episode_limit::date
),

evidence_rows as (
    select
        *,
        'card payment of ' || format('{:,.2f}', amount::double) || ' ' || currency
            || ' to ' || merchant || ' (MCC ' || mcc || ' ' || array_to_string(groups, '/')
            || case
                when food_orders_that_day >= $min_orders_per_day
                    then '; ' || food_orders_that_day || ' food orders that day'
                else '' end
            || ')' as why
    from episode_payments
),

episode_facts as (
    select
        subject_id,
        episode,
        list_sort(list_distinct(flatten(list(groups)))) as groups,
        count(distinct day) filter (where food_orders_that_day >= $min_orders_per_day) as busy_days
    from evidence_rows
    group by subject_id, episode
),

episode_totals as (
    select h.*, f.* exclude (subject_id, episode), o.* exclude (subject_id)
    from episode_hits(evidence_rows) h
    join episode_facts f using (subject_id, episode)
    join out_of_profile o using (subject_id)
),

final as (
    select
        subject_id,
        window_start,
        window_end,
        tx_count,
        amount_total,
        evidence,
        tx_count || ' living-cost payments ('
            || array_to_string(list_transform(groups, lambda g: replace(g, '_', ' ')), ', ') || '; '
            || case
                when one_currency then format('{:,.2f}', amount_own::double) || ' ' || currency
                else format('{:,.2f}', amount_total::double) || ' reporting currency' end
            || ') within ' || (date_diff('day', window_start::date, window_end::date) + 1) || ' days'
            || case
                when busy_days > 0
                    then ', ' || $min_orders_per_day || '+ food orders a day on ' || busy_days
                         || case when busy_days = 1 then ' day' else ' days' end
                else '' end
            || '; the basket is ' || format('{:.0f}', 100 * basket_share) || '% of card spend ('
            || case
                when peers < $min_peers
                    then 'only ' || peers || case when peers = 1 then ' peer' else ' peers' end || ', floor ' || format('{:.0f}', 100 * $min_basket_share::double) || '%'
                else 'peer level ' || format('{:.0f}', 100 * peer_level) || '% among ' || peers || ' peers'
                end || ')' as reason,
        'victim' as likely_role
    from episode_totals
)

select * from final
