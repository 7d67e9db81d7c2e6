-- SEX-08: cash deposits or ATM use in the city of a hotel, soon after paying for it.
--
-- A lodging payment (MCC group lodging, with 3501-3999) by a non-business account is
-- matched when the same account deposits or withdraws cash in the hotel's city within
-- within_hours after it. A window of window_days qualifies with min_occurrences matched
-- lodging payments, in at least min_cities cities or with at least min_deposits cash
-- deposits among the matched cash (FT21: "particularly when multiple cities are
-- observed"; a traveller withdrawing cash at the destination is ordinary).
with business_accounts as (
    select account_id from accounts where customer_type = 'business'
),

-- customer-side lodging payments with a city (card_purchases: the hotel's refunds are not
-- payments)
lodging_payments as materialized (
    select p.*
    from card_purchases p
    where p.mcc in (select mcc from ref_mcc_groups where mcc_group = 'lodging')
      and p.city is not null
      and p.subject_id not in (select account_id from business_accounts)
),

-- a window counts lodging payments of its account, so an account with fewer than
-- min_occurrences of them over the whole export has no qualifying window, and its cash
-- is not read
lodgers as (
    select subject_id
    from lodging_payments
    group by subject_id
    having count(*) >= $min_occurrences
),

-- the columns of a cash event (inlined into each side below)
cash_columns as not materialized (
    select
        src_account, dst_account, tx_id, timestamp, day, amount, currency, amount_rep,
        channel, upper(trim(merchant_city)) as city
    from transactions
    where merchant_city is not null
),

-- cash of the accounts that paid for lodging, with the ATM or branch city: deposits into
-- the account and withdrawals from it, each read on its own channel and account side
cash_events as materialized (
    select t.dst_account as subject_id, t.* exclude (src_account, dst_account)
    from cash_columns t
    semi join lodgers l on l.subject_id = t.dst_account
    where t.channel = 'cash_deposit'
    union all
    select t.src_account as subject_id, t.* exclude (src_account, dst_account)
    from cash_columns t
    semi join lodgers l on l.subject_id = t.src_account
    where t.channel = 'cash_withdrawal'
),

-- equi-join on (account, city) and the day buckets the time limit can reach, then the
-- exact time filter
matches as (
    select
        l.subject_id,
        l.tx_id as lodging_tx_id,
        c.tx_id as cash_tx_id,
        c.timestamp as cash_ts,
        c.channel
    from lodging_payments l
    join cash_events c
        on c.subject_id = l.subject_id
        and c.city = l.city
        and c.day >= l.day
        and c.day <= l.day + ceil($within_hours / 24.0)::integer
    where c.timestamp >= l.timestamp
      and c.timestamp <= l.timestamp + to_hours($within_hours)
),

occurrences as (
    select
        l.subject_id,
        l.tx_id,
        l.timestamp,
        l.city,
        count(*) filter (where m.channel = 'cash_deposit') as n_deposits
    from lodging_payments l
    join matches m on m.lodging_tx_id = l.tx_id
    group by l.subject_id, l.tx_id, l.timestamp, l.city
),

anchored as (
    select
        subject_id,
        timestamp as anchor,
        count(*) over w as n_occurrences,
        len(list_distinct(list(city) over w)) as n_cities,
        sum(n_deposits) over w as n_deposits
    from occurrences
    window w as (
        partition by subject_id order by timestamp
        range between current row and to_days($window_days) following
    )
),

qualifying as (
    select subject_id, anchor as window_start, anchor + to_days($window_days) as window_limit
    from anchored
    where n_occurrences >= $min_occurrences
      and (n_cities >= $min_cities or n_deposits >= $min_deposits)
),

-- overlapping qualifying windows of one account form one episode
episode_bounds as (
    select * from merged_windows(qualifying)
),

episode_lodging as (
    select e.episode, o.subject_id, o.tx_id
    from episode_bounds e
    join occurrences o
        on o.subject_id = e.subject_id
        and o.timestamp >= e.episode_start
        and o.timestamp <= e.episode_limit
),

evidence_rows as (
    select
        x.subject_id,
        x.episode,
        l.tx_id,
        l.timestamp,
        l.amount,
        l.currency,
        l.amount_rep,
        l.city,
        'lodging' as kind,
        'lodging payment of ' || format('{:,.2f}', l.amount::double) || ' ' || l.currency
            || ' to ' || l.merchant || ' in ' || l.city as why
    from episode_lodging x
    join lodging_payments l on l.tx_id = x.tx_id
    union all
    -- a cash event following two nightly payments of one stay is listed once
    select
        x.subject_id,
        x.episode,
        c.tx_id,
        any_value(c.timestamp),
        any_value(c.amount),
        any_value(c.currency),
        any_value(c.amount_rep),
        any_value(c.city),
        any_value(c.channel),
        any_value(replace(c.channel, '_', ' ') || ' of ' || format('{:,.2f}', c.amount::double)
            || ' ' || c.currency || ' in ' || c.city || ', ')
            || min(date_diff('minute', l.timestamp, c.timestamp)) // 60
            || ' h after the lodging payment'
    from episode_lodging x
    join matches m on m.lodging_tx_id = x.tx_id
    join cash_events c on c.tx_id = m.cash_tx_id
    join lodging_payments l on l.tx_id = x.tx_id
    group by x.subject_id, x.episode, c.tx_id
),

episode_facts as (
    select
        subject_id,
        episode,
        count(*) filter (where kind = 'lodging') as n_lodging,
        count(*) filter (where kind = 'cash_deposit') as n_deposits,
        count(*) filter (where kind = 'cash_withdrawal') as n_withdrawals,
        list_sort(list_distinct(list(city))) as cities
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
            case when n_deposits > 0 then n_deposits || ' cash deposit'
                 || case when n_deposits > 1 then 's' else '' end end,
            case when n_withdrawals > 0 then n_withdrawals || ' cash withdrawal'
                 || case when n_withdrawals > 1 then 's' else '' end end)
            || ' in the hotel''s city within ' || $within_hours || ' hours after '
            || n_lodging || ' lodging payment' || case when n_lodging > 1 then 's' else '' end
            || ' within ' || greatest(1, date_diff('day', window_start, window_end)) || ' days ('
            || array_to_string(list_slice(cities, 1, 4), ', ')
            || case when len(cities) > 4 then ', ...' else '' end || ')' as reason,
        'victim' as likely_role
    from episode_totals
)

select * from final
