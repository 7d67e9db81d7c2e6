-- SEX-02: adult / escort ads paid shortly after buying or loading prepaid cards or crypto.
--
-- Funding events of an account: it pays a prepaid-card seller or a crypto exchange
-- (descriptor on the prepaid_card / vasp list, or an MCC in funding_mccs), sends crypto,
-- or receives a top-up from such a merchant or in crypto. An ad payment is a payment by
-- the account to a merchant whose descriptor is on the adult_ad list. An ad payment
-- qualifies when a funding event of the same account precedes it by at most window_days
-- (the window runs from the latest such funding event to the ad payment), or when it is
-- itself paid in crypto.
-- one row per listed descriptor with what it is (matched once per scan in
-- merchant_categories)
with listed_names as (
    select
        merchant_name,
        bool_or(category = 'adult_ad') as is_adult_ad,
        bool_or(category = 'prepaid_card') as is_prepaid,
        bool_or(category = 'vasp') as is_vasp
    from merchant_categories
    where category in ('adult_ad', 'prepaid_card', 'vasp')
    group by merchant_name
),

ad_payments as materialized (
    select
        t.src_account as subject_id,
        t.tx_id,
        t.timestamp,
        t.amount,
        t.currency,
        t.amount_rep,
        t.channel,
        t.merchant_name as merchant,
        -- FC20: ads bought with crypto; such a payment is its own funding
        t.channel = 'crypto' as self_funded
    from transactions t
    join listed_names n on n.merchant_name = t.merchant_name and n.is_adult_ad
    where t.src_account <> cash_account() and t.dst_account <> cash_account()
),

ad_buyers as (
    select distinct subject_id from ad_payments
),

-- everything that can fund an ad, on either side of the transaction, for ad buyers only
funding_rows as (
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
        coalesce(n.is_prepaid, false) as is_prepaid,
        coalesce(n.is_vasp, false) as is_vasp
    from transactions t
    left join listed_names n on n.merchant_name = t.merchant_name
    where (n.is_prepaid or n.is_vasp or t.channel = 'crypto'
           or list_contains($funding_mccs::varchar[], t.mcc))
      and (t.src_account in (select subject_id from ad_buyers)
           or t.dst_account in (select subject_id from ad_buyers))
      -- an ad paid in crypto is an ad payment, not a separate funding event
      and t.tx_id not in (select tx_id from ad_payments)
),

funding as (
    -- purchases: the account buys a prepaid card or crypto, or sends crypto
    select
        src_account as subject_id, tx_id, timestamp, amount, currency, amount_rep,
        case
            when is_prepaid then 'prepaid-card purchase'
            when is_vasp then 'crypto purchase'
            when channel = 'crypto' then 'crypto transfer out'
            else 'quasi-cash purchase (MCC ' || mcc || ')' end as kind,
        merchant
    from funding_rows
    where src_account in (select subject_id from ad_buyers)
    union all
    -- top-ups: the account is loaded from a prepaid-card program, an exchange or in crypto
    select
        dst_account, tx_id, timestamp, amount, currency, amount_rep,
        case
            when is_prepaid then 'prepaid-card top-up'
            when is_vasp then 'top-up from a crypto exchange'
            else 'crypto received' end,
        merchant
    from funding_rows
    where dst_account in (select subject_id from ad_buyers)
      and (is_prepaid or is_vasp or channel = 'crypto')
),

events as (
    select subject_id, tx_id, timestamp, amount, currency, amount_rep, kind, merchant,
           false as is_ad, false as self_funded
    from funding
    union all
    select subject_id, tx_id, timestamp, amount, currency, amount_rep,
           case when self_funded then 'crypto payment' else 'payment' end, merchant,
           true, self_funded
    from ad_payments
),

-- the latest funding event at or before each event (funding first at equal timestamps)
linked as (
    select
        *,
        max(case when not is_ad then timestamp end) over (
            partition by subject_id order by timestamp, is_ad, tx_id
            rows between unbounded preceding and current row
        ) as last_funding
    from events
),

funded_ads as (
    select
        subject_id,
        timestamp,
        last_funding,
        coalesce(timestamp <= last_funding + to_days($window_days), false) as has_funding,
        self_funded
    from linked
    where is_ad
),

qualifying as (
    select
        subject_id,
        case when has_funding then last_funding else timestamp end as window_start,
        timestamp as window_limit
    from funded_ads
    where has_funding or self_funded
),

-- overlapping qualifying windows of one account form one episode; every ad payment
-- inside an episode has a funding event at most window_days before it
episode_bounds as (
    select * from merged_windows(qualifying)
),

evidence_rows as (
    select
        *,
        case
            when is_ad then kind || ' of '
                || format('{:,.2f}', amount::double) || ' ' || currency || ' to ' || merchant
                || ' (adult-ad descriptor)'
            else kind || ' of ' || format('{:,.2f}', amount::double) || ' ' || currency
                || ' (' || merchant || ')' end as why
    from episode_rows(episode_bounds, linked)
),

-- the amounts quoted are those of the ad payments only
episode_facts as (
    select
        subject_id,
        episode,
        count(*) filter (where is_ad) as n_ads,
        count(*) filter (where is_ad and self_funded) as n_crypto_ads,
        count(*) filter (where not is_ad) as n_funding,
        list_sort(list_distinct(list(merchant) filter (where is_ad))) as ad_sites,
        list_sort(list_distinct(list(kind) filter (where not is_ad))) as funding_kinds,
        count(distinct currency) filter (where is_ad) = 1 as one_currency,
        min(currency) filter (where is_ad) as currency,
        min(amount) filter (where is_ad) as min_amount,
        max(amount) filter (where is_ad) as max_amount,
        min(amount_rep) filter (where is_ad) as min_rep,
        max(amount_rep) filter (where is_ad) as max_rep
    from evidence_rows
    group by subject_id, episode
),

episode_totals as (
    select h.* exclude (one_currency, currency, amount_own), f.* exclude (subject_id, episode)
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
        n_ads || case when n_ads = 1 then ' payment' else ' payments' end || ' to adult-ad sites ('
            || array_to_string(list_slice(ad_sites, 1, 3), ', ')
            || case when len(ad_sites) > 3 then ' and ' || (len(ad_sites) - 3) || ' more' else '' end
            || ') of '
            || case
                when one_currency and min_amount = max_amount
                    then format('{:,.2f}', min_amount::double) || ' ' || currency
                else money_range_text(min_amount, max_amount, min_rep, max_rep, one_currency, currency) end
            || case
                when n_funding = 0 then ', paid in crypto'
                else case
                        when n_crypto_ads > 0 then ', ' || n_crypto_ads || ' paid in crypto, the others'
                        when n_ads > 1 then ', each'
                        else '' end
                     || ' at most ' || $window_days
                     || ' days after prepaid or crypto funding (' || n_funding || ' funding '
                     || case when n_funding = 1 then 'event: ' else 'events: ' end
                     || array_to_string(funding_kinds, ', ') || ')' end as reason,
        'controller' as likely_role
    from episode_totals
)

select * from final
