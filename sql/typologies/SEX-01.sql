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
anchored as (
    select
        subject_id,
        timestamp as anchor,
        count(*) over (
            partition by subject_id order by timestamp
            range between current row and to_days($window_days) following
        ) as n_window
    from ad_payments
),

qualifying as (
    select subject_id, anchor as window_start, anchor + to_days($window_days) as window_limit
    from anchored
    where n_window >= $min_payments
),

-- overlapping qualifying windows of one account form one episode
episode_bounds as (
    select * from merged_windows(qualifying)
),

evidence_rows as (
    select
        e.episode,
        p.*,
        replace(p.channel, '_', ' ') || ' payment of ' || format('{:,.2f}', p.amount::double)
            || ' ' || p.currency || ' to ' || p.merchant || ' ('
            || concat_ws('; ',
                case when p.descriptor_match then 'descriptor on the adult-ad list' end,
                case
                    when p.is_escort_mcc then 'MCC ' || p.mcc || ' dating/escort'
                    when p.is_advertising_mcc then 'MCC ' || p.mcc || ' advertising' end,
                case
                    when p.is_fee_amount then 'FT16 ad-fee amount'
                    when p.is_small then 'small amount' end)
            || ')' as why
    from episode_bounds e
    join ad_payments p
        on p.subject_id = e.subject_id
        and p.timestamp >= e.episode_start
        and p.timestamp <= e.episode_limit
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
                when one_currency
                    then format('{:,.2f}', min_amount::double) || '–' || format('{:,.2f}', max_amount::double)
                         || ' ' || currency
                else format('{:,.2f}', min_rep::double) || '–' || format('{:,.2f}', max_rep::double)
                     || ' (reporting currency)' end
            || ' in '
            || case
                when date_diff('hour', window_start, window_end) <= 1 then '1 hour'
                when date_diff('hour', window_start, window_end) < 48
                    then date_diff('hour', window_start, window_end) || ' hours'
                else date_diff('day', window_start, window_end) || ' days' end
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
