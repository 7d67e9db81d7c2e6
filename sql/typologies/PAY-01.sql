-- PAY-01: frequent prepaid / gift-card buying, and round-sum purchases at grocery or
-- convenience stores (which sell gift and prepaid cards over the counter).
--
-- Two kinds of purchase by a non-business account:
--   prepaid    a payment under an MCC of the prepaid_groups (stored-value loads, quasi-
--              cash, money orders) or to a merchant whose descriptor is on the
--              prepaid_card list (Vanilla, Green Dot, Netspend, gift cards ...);
--   round sum  a card payment under an MCC of the round_sum_groups (grocery and
--              convenience) of at least min_round_amount whose amount is a multiple of
--              round_unit (in its own currency): shopping baskets almost never are.
-- A window of window_days qualifies with min_prepaid prepaid purchases or min_round_sum
-- round-sum purchases; overlapping windows make one hit whose evidence is every
-- purchase of either kind in the episode.
with prepaid_codes as (
    select distinct mcc
    from ref_mcc_groups
    where list_contains($prepaid_groups::varchar[], mcc_group)
),

round_sum_codes as (
    select distinct mcc
    from ref_mcc_groups
    where list_contains($round_sum_groups::varchar[], mcc_group)
),

-- descriptors on the prepaid-card list (matched once per scan in merchant_categories)
prepaid_names as (
    select merchant_name
    from merchant_categories
    where category = 'prepaid_card'
),

purchase_rows as materialized (
    select
        t.tx_id,
        t.timestamp,
        t.src_account,
        t.dst_account,
        t.amount,
        t.currency,
        t.amount_rep,
        t.channel,
        t.mcc,
        coalesce(t.merchant_name, 'merchant ' || t.dst_account) as merchant,
        pc.mcc is not null as is_prepaid_mcc,
        pn.merchant_name is not null as is_prepaid_name,
        pc.mcc is not null or pn.merchant_name is not null as is_prepaid,
        rc.mcc is not null and t.channel = 'card'
            and t.amount_rep >= $min_round_amount
            and t.amount % $round_unit = 0 as is_round_sum
    from transactions t
    left join prepaid_codes pc on pc.mcc = t.mcc
    left join prepaid_names pn on pn.merchant_name = t.merchant_name
    left join round_sum_codes rc on rc.mcc = t.mcc
    where t.src_account <> cash_account()
      and t.dst_account <> cash_account()
      and (pc.mcc is not null or pn.merchant_name is not null
           or (rc.mcc is not null and t.channel = 'card'
               and t.amount_rep >= $min_round_amount and t.amount % $round_unit = 0))
),

-- customers' payments: a party that two or more others paid is the merchant (its refunds
-- are not spending), and business accounts are left out
-- (FC20 #5 is about individuals; a business buying gift cards for staff rewards or supplies
-- at a cash-and-carry is a different question)
purchases as materialized (
    select * from customer_payments(purchase_rows)
),

-- each purchase opens a window; count both kinds inside it
anchored as (
    select
        subject_id,
        timestamp as anchor,
        count(*) filter (where is_prepaid) over w as n_prepaid,
        count(*) filter (where is_round_sum) over w as n_round_sum
    from purchases
    window w as (
        partition by subject_id order by timestamp
        range between current row and to_days($window_days) following
    )
),

qualifying as (
    select subject_id, anchor as window_start, anchor + to_days($window_days) as window_limit
    from anchored
    where n_prepaid >= $min_prepaid or n_round_sum >= $min_round_sum
),

-- overlapping qualifying windows of one account form one episode
episode_bounds as (
    select * from merged_windows(qualifying)
),

evidence_rows as (
    select
        *,
        replace(channel, '_', ' ') || ' payment of ' || format('{:,.2f}', amount::double)
            || ' ' || currency || ' to ' || merchant || ' ('
            || concat_ws('; ',
                case when is_prepaid_name then 'descriptor on the prepaid-card list' end,
                case when is_prepaid_mcc then 'MCC ' || mcc || ' prepaid / quasi-cash' end,
                case when is_round_sum then 'round sum at MCC ' || mcc || ' grocery / convenience' end)
            || ')' as why
    from episode_rows(episode_bounds, purchases)
),

episode_facts as (
    select
        subject_id,
        episode,
        count(*) filter (where is_prepaid) as n_prepaid,
        count(*) filter (where is_round_sum and not is_prepaid) as n_round_sum,
        list_sort(list_distinct(list(merchant) filter (where is_prepaid))) as prepaid_merchants,
        sum(amount) filter (where is_prepaid) as prepaid_amount,
        sum(amount_rep) filter (where is_prepaid) as prepaid_rep,
        sum(amount) filter (where is_round_sum and not is_prepaid) as round_amount,
        sum(amount_rep) filter (where is_round_sum and not is_prepaid) as round_rep
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
        concat_ws(' and ',
            case when n_prepaid > 0 then
                n_prepaid || ' prepaid / gift-card purchase' || case when n_prepaid = 1 then '' else 's' end
                || ' ('
                || array_to_string(list_slice(prepaid_merchants, 1, 3), ', ')
                || case when len(prepaid_merchants) > 3
                        then ' and ' || (len(prepaid_merchants) - 3) || ' more' else '' end
                || ') of '
                || money_text(prepaid_amount, prepaid_rep, one_currency, currency)
            end,
            case when n_round_sum > 0 then
                n_round_sum || ' round-sum grocery / convenience purchase'
                || case when n_round_sum = 1 then '' else 's' end || ' of '
                || money_text(round_amount, round_rep, one_currency, currency)
            end)
            || ' in '
            || span_text(window_start, window_end) as reason,
        'unknown' as likely_role
    from episode_totals
)

select * from final
