-- LAB-05: a business pays workers' living costs: housing and lodging, vehicle and van
-- rental, bulk food (MCC groups in living_groups: 7011 and the 3501-3999 hotel chains,
-- 6513, 7512 / 7513, 5411, 5300).
--
-- Only accounts the accounts file marks business are read; without an accounts file the
-- typology returns nothing. Payments under a group the business itself sells in (card
-- credits to it under an MCC of that group: a hotel paying other hotels, a grocer buying
-- groceries, a rental firm renting vans) are its trade, not living costs, and are left
-- out. The account must be out of profile: living costs are at least min_share of its
-- outflows over the export and above the peer_quantile of the businesses of its customer
-- type and segment (with fewer than min_peers such businesses only the floor applies). A
-- window of window_days then qualifies with min_payments payments in at least min_groups
-- different groups adding up to min_amount. The hotel-chain codes 3501-3999 are rows of
-- the lodging group of the MCC reference.
with living_codes as (
    select mcc, min(mcc_group) as living_group
    from ref_mcc_groups
    where list_contains($living_groups::varchar[], mcc_group)
    group by mcc
),

business_accounts as (
    select account_id, coalesce(customer_type, '') as customer_type, coalesce(segment, '') as segment
    from accounts
    where customer_type = 'business'
),

-- groups a business sells in: card payments it receives under their MCCs
sold_groups as (
    select distinct t.dst_account as account_id, c.living_group
    from transactions t
    join living_codes c on c.mcc = t.mcc
    semi join business_accounts b on b.account_id = t.dst_account
    where t.channel = 'card'
),

living_payments as materialized (
    select
        t.src_account as subject_id,
        t.tx_id,
        t.timestamp,
        t.day,
        t.amount,
        t.currency,
        t.amount_rep,
        t.mcc,
        t.channel,
        coalesce(t.merchant_name, 'merchant ' || t.dst_account) as merchant,
        c.living_group,
        -- one bit per group, for distinct-group counts over a range window
        (1::bigint << list_position($living_groups::varchar[], c.living_group)) as group_bit
    from transactions t
    join living_codes c on c.mcc = t.mcc
    semi join business_accounts b on b.account_id = t.src_account
    anti join sold_groups s on s.account_id = t.src_account and s.living_group = c.living_group
    where t.dst_account <> cash_account()
),

living_spend as (
    select subject_id as account_id, sum(amount_rep)::double as living_amount
    from living_payments
    group by subject_id
),

-- living costs as a share of every outflow, for every business that pays anything
shares as (
    select
        b.account_id,
        b.customer_type,
        b.segment,
        least(1.0, coalesce(l.living_amount, 0) / f.out_amount) as share
    from business_accounts b
    join account_features f using (account_id)
    left join living_spend l using (account_id)
    where f.out_amount > 0
),

-- FC14: business payments that feed and house individuals and do not fit the business:
-- a living-cost share above the peer level of the business's customer type and segment
-- (peer_outliers of sql/macros)
out_of_profile as (
    select account_id as subject_id, segment, share as living_share, peer_level, peers
    from peer_outliers(shares, $peer_quantile, $min_share, $min_peers)
),

candidate_payments as materialized (
    select l.*
    from living_payments l
    semi join out_of_profile o on o.subject_id = l.subject_id
),

payment_days as (
    select
        subject_id,
        day,
        count(*) as n_payments,
        sum(amount_rep) as amount_rep,
        bit_or(group_bit) as group_bits
    from candidate_payments
    group by subject_id, day
),

anchored as (
    select
        subject_id,
        day,
        sum(n_payments) over w as payments,
        sum(amount_rep) over w as amount_rep,
        bit_count(bit_or(group_bits) over w) as groups
    from payment_days
    window w as (
        partition by subject_id order by day
        range between current row and ($window_days - 1) following
    )
),

qualifying as (
    select
        subject_id,
        day as window_start,
        day + ($window_days - 1)::integer as window_limit
    from anchored
    where payments >= $min_payments
      and amount_rep >= $min_amount
      and groups >= $min_groups
),

-- overlapping qualifying windows of one account form one episode (calendar days)
episode_bounds as (
    select * from merged_windows(qualifying)
),

evidence_rows as (
    select
        p.*,
        replace(p.channel, '_', ' ') || ' payment of ' || format('{:,.2f}', p.amount::double)
            || ' ' || p.currency || ' to ' || p.merchant || ' (MCC ' || p.mcc || ' '
            || replace(p.living_group, '_', ' ') || ')' as why
    from episode_day_rows(episode_bounds, candidate_payments) p
),

episode_groups as (
    select
        subject_id,
        episode,
        string_agg(distinct replace(living_group, '_', ' '), ', '
                   order by replace(living_group, '_', ' ')) as groups
    from evidence_rows
    group by subject_id, episode
),

episode_totals as (
    select
        h.*,
        g.groups,
        o.segment,
        o.living_share,
        o.peer_level,
        o.peers
    from episode_hits(evidence_rows) h
    join episode_groups g using (subject_id, episode)
    join out_of_profile o on o.subject_id = h.subject_id
),

final as (
    select
        subject_id,
        window_start,
        window_end,
        tx_count,
        amount_total,
        evidence,
        tx_count || ' payments for living costs (' || groups || '; '
            || money_text(amount_own, amount_total, one_currency, currency)
            || ') within ' || (date_diff('day', window_start::date, window_end::date) + 1) || ' days; '
            || 'living costs are ' || format('{:.0f}', 100 * living_share)
            || '% of the business''s outflows ('
            || case
                when peers < $min_peers
                    then 'only ' || peers || case when peers = 1 then ' business' else ' businesses' end
                         || ' in segment ''' || segment || ''', floor '
                         || format('{:.0f}', 100 * $min_share::double) || '%'
                else 'peer level ' || format('{:.0f}', 100 * peer_level) || '% among ' || peers
                     || ' businesses in segment ''' || segment || ''''
                end || ')' as reason,
        'business' as likely_role
    from episode_totals
)

select * from final
