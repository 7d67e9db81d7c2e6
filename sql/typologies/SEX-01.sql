-- SEX-01: frequent (usually small) payments to adult / escort advertising sites.
--
-- A payment counts when the merchant descriptor matches an adult_ad pattern (any MCC) or
-- the MCC is in the dating_escort group (7273). Advertising MCCs (7311, 5967) cover all
-- advertising and teleservices, so on their own they never count: they only label a
-- payment whose descriptor already matched.
-- descriptors on the adult-ad list (matched once per scan in merchant_categories)
with adult_ad_names as (
    select merchant_name
    from merchant_categories
    where category = 'adult_ad'
),

-- a code may sit in several groups
mcc_labels as (
    select
        mcc,
        bool_or(mcc_group = 'dating_escort') as is_escort_mcc,
        bool_or(mcc_group = 'advertising') as is_advertising_mcc
    from ref_mcc_groups
    where mcc_group in ('dating_escort', 'advertising')
    group by mcc
),

ad_payments as (
    select
        t.src_account as subject_id,
        t.tx_id,
        t.timestamp,
        t.amount,
        t.currency,
        t.amount_rep,
        t.channel,
        t.mcc,
        coalesce(t.merchant_name, 'merchant ' || t.dst_account) as merchant,
        a.merchant_name is not null as descriptor_match,
        coalesce(m.is_escort_mcc, false) as is_escort_mcc,
        coalesce(m.is_advertising_mcc, false) as is_advertising_mcc,
        -- FT16: ad and escort sites are paid in small multiples such as 3, 12, 24
        list_contains($fee_amounts::decimal(18, 4)[], t.amount) as is_fee_amount,
        -- FT16: online payment services in small amounts, typically under 100
        t.amount_rep <= $small_amount as is_small
    from transactions t
    left join adult_ad_names a on a.merchant_name = t.merchant_name
    left join mcc_labels m on m.mcc = t.mcc
    where t.channel in ('card', 'other')
      and (a.merchant_name is not null or m.is_escort_mcc)
),

-- each payment opens a window; count the payments inside it
qualifying as (
    select * from count_windows(ad_payments, to_days($window_days), $min_payments)
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
                case when descriptor_match then 'descriptor on the adult-ad list' end,
                case
                    when is_escort_mcc then 'MCC ' || mcc || ' dating/escort'
                    when is_advertising_mcc then 'MCC ' || mcc || ' advertising' end,
                case
                    when is_fee_amount then 'FT16 ad-fee amount'
                    when is_small then 'small amount' end)
            || ')' as why
    from episode_rows(episode_bounds, ad_payments)
),

episode_facts as (
    select
        subject_id,
        episode,
        list_sort(list_distinct(list(merchant))) as merchants,
        min(amount) as min_amount,
        max(amount) as max_amount,
        min(amount_rep) as min_rep,
        max(amount_rep) as max_rep,
        count(*) filter (where is_small) as n_small,
        count(*) filter (where is_fee_amount) as n_fee
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
        tx_count || ' payments to '
            || array_to_string(list_slice(merchants, 1, 3), ', ')
            || case when len(merchants) > 3 then ' and ' || (len(merchants) - 3) || ' more' else '' end
            || ' of '
            || case
                when one_currency and min_amount = max_amount
                    then format('{:,.2f}', min_amount::double) || ' ' || currency || ' each'
                else money_range_text(min_amount, max_amount, min_rep, max_rep, one_currency, currency) end
            || ' in '
            || span_text(window_start, window_end)
            || case when n_small > 0
                then '; ' || n_small || ' of ' || tx_count || ' at most '
                     || format('{:,.2f}', $small_amount::double) || ' (reporting currency)'
                else '' end
            || case when n_fee > 0
                then '; ' || n_fee || ' at the FT16 ad-fee amounts ' || array_to_string($fee_amounts, '/')
                else '' end as reason,
        'controller' as likely_role
    from episode_totals
)

select * from final
