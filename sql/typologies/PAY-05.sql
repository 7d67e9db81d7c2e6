-- PAY-05: frequent payments to foreign online classified sites.
--
-- A payment counts when its merchant descriptor matches a foreign_classified pattern and
-- it is not domestic: when both src_country and dst_country are known they must differ
-- (a bank whose own country hosts a listed site, e.g. Kijiji for Canadian customers,
-- does not see its customers' domestic payments as foreign). A window of window_days
-- qualifies with min_payments such payments; overlapping windows make one hit.
-- descriptors on the foreign-classifieds list (matched once per scan in
-- merchant_categories)
with classified_names as (
    select merchant_name
    from merchant_categories
    where category = 'foreign_classified'
),

classified_rows as materialized (
    select
        t.tx_id,
        t.timestamp,
        t.src_account,
        t.dst_account,
        t.amount,
        t.currency,
        t.amount_rep,
        t.channel,
        t.merchant_name,
        t.src_country,
        t.dst_country
    from transactions t
    semi join classified_names n on n.merchant_name = t.merchant_name
    where list_contains($channels::varchar[], t.channel)
      and t.src_account <> cash_account()
      and t.dst_account <> cash_account()
),

-- a party that two or more others paid under a listed descriptor is the site itself:
-- its refunds to customers are not payments by the site
sites as (
    select dst_account as account_id
    from classified_rows
    group by dst_account
    having count(distinct src_account) >= 2
),

classified_payments as materialized (
    select r.*, r.src_account as subject_id
    from classified_rows r
    anti join sites s on s.account_id = r.src_account
    -- FC20 #7 is about sites based in foreign jurisdictions: drop payments known to be
    -- domestic (both countries given and equal)
    where r.src_country is null
       or r.dst_country is null
       or r.src_country <> r.dst_country
),

-- each payment opens a window; count the payments inside it
qualifying as (
    select * from count_windows(classified_payments, to_days($window_days), $min_payments)
),

-- overlapping qualifying windows of one account form one episode
episode_bounds as (
    select * from merged_windows(qualifying)
),

evidence_rows as (
    select
        *,
        replace(channel, '_', ' ') || ' payment of ' || format('{:,.2f}', amount::double)
            || ' ' || currency || ' to ' || merchant_name
            || ' (foreign classified site'
            || case when dst_country is not null then ', ' || dst_country else '' end
            || ')' as why
    from episode_rows(episode_bounds, classified_payments)
),

episode_facts as (
    select
        subject_id,
        episode,
        list_sort(list_distinct(list(merchant_name))) as merchants,
        list_sort(list_distinct(list(dst_country))) as countries,
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
        tx_count || ' payments to foreign classified sites ('
            || array_to_string(list_slice(merchants, 1, 3), ', ')
            || case when len(merchants) > 3 then ' and ' || (len(merchants) - 3) || ' more' else '' end
            || case when len(countries) > 0 then '; ' || array_to_string(countries, ', ') else '' end
            || ') of '
            || case
                when one_currency and min_amount = max_amount
                    then format('{:,.2f}', min_amount::double) || ' ' || currency || ' each'
                else money_range_text(min_amount, max_amount, min_rep, max_rep, one_currency, currency) end
            || ' in '
            || span_text(window_start, window_end) as reason,
        'controller' as likely_role
    from episode_totals
)

select * from final
