-- SEX-03: short stays in hotels or short-term lets, often in several cities.
--
-- Lodging payments (MCC group lodging, with the hotel-chain MCCs 3501-3999) by a non-business
-- account, bucketed per day. A 14-day window qualifies when it holds at least min_stays
-- stays (one per hotel and day) at min_hotels or more hotels, or lodging in min_cities
-- or more distinct cities, and the account paid no fare or car rental (travel_groups)
-- from travel_lookback_days before the window to its end: stays along a trip the holder
-- flew to or drove in a rented car are travel, not a circuit. Overlapping qualifying
-- windows of one account make one hit.
with business_accounts as (
    select account_id from accounts where customer_type = 'business'
),

-- customer-side lodging payments (card_purchases: a hotel refunding four guests is not
-- four stays): the account, day, hotel and city the windows count
lodging_stays as materialized (
    select p.subject_id, p.day, p.merchant_id, p.city
    from card_purchases p
    where p.mcc in (select mcc from ref_mcc_groups where mcc_group = 'lodging')
      -- victims are individuals; a business paying hotels for staff is LAB-05's question
      and p.subject_id not in (select account_id from business_accounts)
),

-- a window holds no more stays, hotels or cities than the account's whole history, so an
-- account whose history has fewer than min_stays stays or min_hotels hotels, and fewer
-- than min_cities cities, has no qualifying window
candidates as (
    select subject_id
    from lodging_stays
    group by subject_id
    having (count(distinct (merchant_id, day)) >= $min_stays
            and count(distinct merchant_id) >= $min_hotels)
        or count(distinct city) >= $min_cities
),

-- one row per account and day: a pre-authorisation and the final bill at one hotel on
-- one day are one stay. Hotels and cities are counted on 64-bit hashes of their names
-- (two hotels or cities of one account's window sharing a hash are vanishingly
-- unlikely)
stay_days as (
    select
        subject_id,
        day,
        count(distinct merchant_id) as stays,
        list(distinct hash(merchant_id)) as hotels,
        coalesce(list(distinct hash(city)) filter (where city is not null), []) as cities
    from lodging_stays
    semi join candidates using (subject_id)
    group by subject_id, day
),

-- the holder's own travel: airline tickets and car rentals (booked before the trip)
travel_days as (
    select distinct p.subject_id, p.day
    from card_purchases p
    where p.mcc in (
        select mcc from ref_mcc_groups where list_contains($travel_groups::varchar[], mcc_group))
      and p.subject_id in (select subject_id from stay_days)
),

anchored as (
    select
        subject_id,
        day,
        sum(stays) over w as n_stays,
        len(list_distinct(flatten(list(hotels) over w))) as n_hotels,
        len(list_distinct(flatten(list(cities) over w))) as n_cities
    from stay_days
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
    from anchored a
    where ((n_stays >= $min_stays and n_hotels >= $min_hotels)
           or n_cities >= $min_cities)
      -- a trip: the account bought the flight or rented the car itself
      and not exists (
          select 1 from travel_days t
          where t.subject_id = a.subject_id
            and t.day >= a.day - $travel_lookback_days::integer
            and t.day <= a.day + ($window_days - 1)::integer
      )
),

-- overlapping qualifying windows of one account form one episode
episode_bounds as (
    select * from merged_windows(qualifying)
),

evidence_rows as (
    select
        e.episode,
        p.*,
        'lodging payment of ' || format('{:,.2f}', p.amount::double) || ' ' || p.currency
            || ' to ' || p.merchant
            || coalesce(' in ' || p.city, '')
            || ' (MCC ' || p.mcc || ')' as why
    from episode_bounds e
    join card_purchases p
        on p.subject_id = e.subject_id
        and p.day >= e.episode_start::date
        and p.day <= e.episode_limit::date
    -- the lodging payments of the accounts with an episode, read in full
    where p.mcc in (select mcc from ref_mcc_groups where mcc_group = 'lodging')
),

episode_facts as (
    select
        subject_id,
        episode,
        count(distinct (merchant_id, day)) as n_stays,
        count(distinct merchant_id) as n_hotels,
        list_sort(list_distinct(list(city) filter (where city is not null))) as cities
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
        tx_count || ' lodging payments ('
            || case
                when one_currency then format('{:,.2f}', amount_own::double) || ' ' || currency
                else format('{:,.2f}', amount_total::double) || ' reporting currency' end
            || ') for ' || n_stays || ' stays at ' || n_hotels
            || case when n_hotels = 1 then ' hotel' else ' hotels' end
            || case
                when len(cities) = 0 then ''
                else ' in ' || len(cities) || case when len(cities) = 1 then ' city (' else ' cities (' end
                     || array_to_string(list_slice(cities, 1, 4), ', ')
                     || case when len(cities) > 4 then ', ...' else '' end || ')' end
            || ' within '
            || greatest(1, date_diff('day', window_start::date, window_end::date) + 1) || ' days' as reason,
        'victim' as likely_role
    from episode_totals
)

select * from final
