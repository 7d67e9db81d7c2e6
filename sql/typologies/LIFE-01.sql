-- LIFE-01: lavish spending (jewellery, luxury car dealers, nightclubs, cosmetic surgery,
-- high-end restaurants, limousines) by an account funded mainly by cash and P2P credits.
--
-- Lavish payments are card payments under an MCC of the lavish_groups (any amount) or of
-- the large_ticket_groups (only payments of at least min_large_ticket: a 1,500 dinner or
-- limousine, a cosmetic procedure, not a doctor's co-pay). The account must be out of
-- profile over the whole export: lavish spend is at least min_lavish_share of its card
-- spend and above the peer_quantile of its peer group (customer type and segment; with
-- fewer than min_peers accounts only the floor applies), and cash deposits plus P2P
-- credits are at least min_cash_p2p_share of the money it received. A window of
-- window_days then qualifies with at least min_lavish_amount of lavish payments;
-- overlapping windows make one hit. Businesses are never subjects.
with lavish_codes as (
    select
        mcc,
        bool_or(list_contains($lavish_groups::varchar[], mcc_group)) as always_lavish,
        list_sort(list_distinct(list(mcc_group))) as groups,
        min(description) as label
    from ref_mcc_groups
    where list_contains($lavish_groups::varchar[], mcc_group)
       or list_contains($large_ticket_groups::varchar[], mcc_group)
    group by mcc
),

lavish_rows as materialized (
    select
        t.tx_id,
        t.timestamp,
        t.src_account,
        t.dst_account,
        t.amount,
        t.currency,
        t.amount_rep,
        t.mcc,
        coalesce(t.merchant_name, 'merchant ' || t.dst_account) as merchant,
        c.groups,
        c.label
    from transactions t
    join lavish_codes c on c.mcc = t.mcc
    where t.channel = 'card'
      and t.src_account <> cash_account()
      and t.dst_account <> cash_account()
      and (c.always_lavish or t.amount_rep >= $min_large_ticket)
),

-- customers' payments: a party that two or more others paid is the merchant (its refunds
-- are not spending), and business accounts are left out
-- (FT21 describes traffickers' personal lifestyle; a business buying stock from a jeweller
-- or a car for its fleet is a different question)
lavish_payments as materialized (
    select * from customer_payments(lavish_rows)
),

lavish_spend as (
    select subject_id as account_id, sum(amount_rep)::double as lavish_amount
    from lavish_payments
    group by subject_id
),

-- lavish share of card spend for every account that pays by card
shares as (
    select
        f.account_id,
        coalesce(f.customer_type, '') as customer_type,
        coalesce(f.segment, '') as segment,
        f.in_amount,
        f.cash_in_share,
        least(1.0, coalesce(l.lavish_amount, 0) / (f.card_spend_share * f.out_amount)) as share
    from account_features f
    left join lavish_spend l using (account_id)
    where f.card_spend_share > 0 and f.out_amount > 0
),

spenders as (
    select * exclude (share), share as lavish_share
    from peer_outliers(shares, $peer_quantile, $min_lavish_share, $min_peers)
),

-- P2P credits of those accounts only (cash deposits come from account_features)
p2p_received as (
    select t.dst_account as account_id, sum(t.amount_rep)::double as p2p_amount
    from transactions t
    semi join spenders s on s.account_id = t.dst_account
    where t.channel = 'p2p'
    group by t.dst_account
),

-- FT21: lavish spending by traffickers funded by cash and e-transfers
out_of_profile as (
    select
        s.account_id as subject_id,
        s.lavish_share,
        s.peer_level,
        s.peers,
        (coalesce(s.cash_in_share, 0) * s.in_amount + coalesce(p.p2p_amount, 0))
            / nullif(s.in_amount, 0) as cash_p2p_share
    from spenders s
    left join p2p_received p using (account_id)
    where (coalesce(s.cash_in_share, 0) * s.in_amount + coalesce(p.p2p_amount, 0))
          >= $min_cash_p2p_share * s.in_amount
      and s.in_amount > 0
),

candidate_payments as materialized (
    select l.*
    from lavish_payments l
    semi join out_of_profile o on o.subject_id = l.subject_id
),

-- each payment opens a window; add up the lavish spend inside it
anchored as (
    select
        subject_id,
        timestamp as anchor,
        sum(amount_rep) over (
            partition by subject_id order by timestamp
            range between current row and to_days($window_days) following
        ) as spend_in_window
    from candidate_payments
),

qualifying as (
    select subject_id, anchor as window_start, anchor + to_days($window_days) as window_limit
    from anchored
    where spend_in_window >= $min_lavish_amount
),

-- overlapping qualifying windows of one account form one episode
episode_bounds as (
    select * from merged_windows(qualifying)
),

evidence_rows as (
    select
        *,
        'card payment of ' || format('{:,.2f}', amount::double) || ' ' || currency
            || ' to ' || merchant || ' (MCC ' || mcc || ' ' || label || ')' as why
    from episode_rows(episode_bounds, candidate_payments)
),

episode_facts as (
    select
        subject_id,
        episode,
        list_sort(list_distinct(list(lower(label)))) as kinds
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
        tx_count || ' lavish payments (' || array_to_string(kinds, ', ') || ') of '
            || money_text(amount_own, amount_total, one_currency, currency)
            || ' within ' || (date_diff('day', window_start::date, window_end::date) + 1)
            || case when window_start::date = window_end::date then ' day' else ' days' end
            || '; lavish spend is ' || format('{:.0f}', 100 * lavish_share) || '% of card spend ('
            || case
                when peers < $min_peers
                    then 'only ' || peers || case when peers = 1 then ' peer' else ' peers' end
                         || ', floor ' || format('{:.0f}', 100 * $min_lavish_share::double) || '%'
                else 'peer level ' || format('{:.0f}', 100 * peer_level) || '% among ' || peers || ' peers'
                end
            || ') and ' || format('{:.0f}', 100 * cash_p2p_share)
            || '% of the money received came as cash deposits or P2P transfers' as reason,
        'controller' as likely_role
    from episode_totals
)

select * from final
