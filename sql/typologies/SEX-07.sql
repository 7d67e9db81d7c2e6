-- SEX-07: activity in many cities within a short time.
--
-- Presence events say where the account holder was: card payments at places one visits in
-- person (presence_groups; lodging includes the hotel chains 3501-3999) and cash at ATMs
-- or branches, each with its merchant city. Home cities are those where the account was
-- active on at least home_day_share of its presence days (accounts with at least
-- min_home_days of them). A window of window_days qualifies when it holds min_cities
-- distinct cities, of which at least min_away_cities are not home cities and were visited
-- on one trip, i.e. without a day in a home city between them (a traveller who is home
-- between two weekly trips has one away city per trip). Regions / provinces are not in the
-- export, so the catalogue's "or >= 2 regions" branch is not implemented. A window is a
-- trip, not a circuit, when the account paid its own transport (travel_groups: airline
-- tickets, car rentals) from travel_lookback_days before it to its end.
with presence_codes as (
    select distinct mcc from ref_mcc_groups
    where list_contains($presence_groups::varchar[], mcc_group)
),

business_accounts as (
    select account_id from accounts where customer_type = 'business'
),

-- Only an account present in min_cities cities can qualify. account_features counts the
-- distinct merchant_city values of all the account's transactions on either side, its
-- presence events among them, before upper-casing (which can only merge values) and
-- before the non-city descriptors are dropped: an account with fewer cannot qualify, and
-- its rows are left out of everything below. Cash and business accounts are never
-- subjects. The account_key numbers the candidates so that the grouping and windows sort
-- integers.
candidates as (
    select f.account_id as subject_id, k.account_key as subject_key
    from account_features f
    join account_keys k using (account_id)
    where f.distinct_cities >= $min_cities
      and f.account_id <> cash_account()
      and f.account_id not in (select account_id from business_accounts)
),

-- the columns of a presence event the trail shows (inlined into each side below)
presence_columns as not materialized (
    select
        tx_id, timestamp, day, amount, currency, amount_rep, channel, merchant_name,
        src_account, dst_account, merchant_city, mcc
    from transactions
    where merchant_city is not null
),

-- The candidates' presence events, the holder being the source of a card payment or
-- cash withdrawal and the destination of a cash deposit. Each side joins the candidates
-- on its own account column, so the scan skips the other accounts' rows before reading
-- the columns the trail shows.
presence_rows as materialized (
    select c.subject_key, c.subject_id, t.* exclude (src_account, mcc)
    from presence_columns t
    join candidates c on c.subject_id = t.src_account
    where t.channel = 'cash_withdrawal'
       or (t.channel = 'card' and t.mcc in (select mcc from presence_codes))
    union all
    select c.subject_key, c.subject_id, t.* exclude (src_account, mcc)
    from presence_columns t
    join candidates c on c.subject_id = t.dst_account
    where t.channel = 'cash_deposit'
),

-- card-not-present descriptors put a phone number or web address where the city goes;
-- checked once per distinct value, and each city numbered
city_names as materialized (
    select merchant_city, city, dense_rank() over (order by city) as city_key
    from (
        select merchant_city, upper(trim(merchant_city)) as city
        from (select distinct merchant_city from presence_rows)
    )
    where city <> '' and not regexp_matches(city, '[0-9@/]|\.(COM|NET|ORG|CA|CO)\b|^WWW')
),

-- one row per account, city and day: everything up to the windows works on these
city_days_all as materialized (
    select p.subject_key, n.city_key, p.day
    from presence_rows p
    join city_names n using (merchant_city)
    group by p.subject_key, n.city_key, p.day
),

city_day_counts as (
    select subject_key, city_key, count(*) as days
    from city_days_all
    group by subject_key, city_key
),

account_days as (
    select subject_key, count(distinct day) as days
    from city_days_all
    group by subject_key
),

-- "not matching travel history": cities the account uses routinely are home
city_status as (
    select
        c.subject_key,
        c.city_key,
        a.days >= $min_home_days and c.days >= $home_day_share * a.days as is_home
    from city_day_counts c
    join account_days a using (subject_key)
),

-- only accounts seen in enough cities, enough of them away from home, can qualify
subjects as (
    select subject_key
    from city_status
    group by subject_key
    having count(*) >= $min_cities and count(*) filter (where not is_home) >= $min_away_cities
),

city_days as (
    select d.subject_key, d.city_key, d.day, s.is_home
    from city_days_all d
    semi join subjects using (subject_key)
    join city_status s on s.subject_key = d.subject_key and s.city_key = d.city_key
),

-- A day with activity in a home city ends a trip: away cities count together only within
-- one trip. That day starts the next trip, so the trip of day d began on the last home day
-- up to d, or on the account's first day when there was none. The previous day of the
-- same city gives the span below.
spans as (
    select
        subject_key,
        day,
        is_home,
        lag(day) over (partition by subject_key, city_key order by day) as previous_day,
        coalesce(max(day) filter (where is_home) over account_days, min(day) over account_days)
            as trip_start
    from city_days
    window account_days as (partition by subject_key order by day)
),

-- Distinct cities in the window [d, d + window_days - 1] of every day d, without lists:
-- a city-day row is the first of its city in the window of every d from the day after
-- the city's previous day (or window_days - 1 earlier) up to its own day. Each row opens
-- that span of anchor days with +1 and closes it on its own day, and running sums over
-- the days give the count on each day: the spans opened up to d less those closed before
-- d. Away cities do the same within their trip: the span starts no earlier than the trip,
-- and a previous day of the city in an earlier trip lies before the trip's start.
events as (
    select
        subject_key,
        greatest(previous_day + 1, day - ($window_days - 1)::integer) as day,
        1 as opened,
        0 as opened_away,
        0 as closed,
        0 as closed_away,
        false as is_anchor
    from spans
    union all
    select
        subject_key,
        greatest(previous_day + 1, day - ($window_days - 1)::integer, trip_start),
        0, 1, 0, 0, false
    from spans
    where not is_home
    union all
    -- windows start on days with activity
    select subject_key, day, 0, 0, 1, (not is_home)::integer, true
    from spans
),

anchored as (
    select
        subject_key,
        day,
        sum(opened) over running - coalesce(sum(closed) over before, 0) as n_cities,
        sum(opened_away) over running - coalesce(sum(closed_away) over before, 0) as n_away
    from events
    window
        running as (partition by subject_key order by day),
        before as (
            partition by subject_key order by day
            range between unbounded preceding and current row exclude group
        )
    qualify is_anchor
),

-- the holder's own travel: airline tickets and car rentals (booked before the trip)
travel_purchases as materialized (
    select subject_id, day
    from card_purchases
    where mcc in (
        select mcc from ref_mcc_groups where list_contains($travel_groups::varchar[], mcc_group))
),

travel_days as (
    select distinct c.subject_key, p.day
    from travel_purchases p
    join candidates c using (subject_id)
    semi join subjects s using (subject_key)
),

-- the anchor rows of one day (one per city) hold the same counts: one window per day
qualifying as (
    select distinct
        c.subject_id,
        a.day::timestamp as window_start,
        (a.day + ($window_days - 1)::integer)::timestamp as window_limit
    from anchored a
    join candidates c using (subject_key)
    where a.n_cities >= $min_cities and a.n_away >= $min_away_cities
      -- a trip: the account bought the flight or rented the car itself
      and not exists (
          select 1 from travel_days t
          where t.subject_key = a.subject_key
            and t.day >= a.day - $travel_lookback_days::integer
            and t.day <= a.day + ($window_days - 1)::integer
      )
),

-- overlapping qualifying windows of one account form one episode
episode_bounds as (
    select * from merged_windows(qualifying)
),

-- the trail: the first transaction in each city on each day of the episode
trail as (
    select
        e.episode,
        p.* exclude (subject_key, merchant_city),
        n.city,
        coalesce(p.merchant_name, 'merchant ' || p.dst_account) as merchant,
        s.is_home
    from episode_bounds e
    join candidates c using (subject_id)
    join presence_rows p
        on p.subject_key = c.subject_key
        and p.day >= e.episode_start::date
        and p.day <= e.episode_limit::date
    join city_names n using (merchant_city)
    join city_status s on s.subject_key = p.subject_key and s.city_key = n.city_key
    qualify row_number() over (
        partition by p.subject_key, e.episode, p.day, n.city order by p.timestamp, p.tx_id) = 1
),

evidence_rows as (
    select
        *,
        case channel
            when 'cash_deposit' then 'cash deposit'
            when 'cash_withdrawal' then 'cash withdrawal'
            else 'card payment' end
            || ' of ' || format('{:,.2f}', amount::double) || ' ' || currency
            || case when channel = 'card' then ' at ' || merchant else '' end
            || ' in ' || city
            || case when is_home then ' (usual city)' else '' end as why
    from trail
),

episode_totals as (
    select * from episode_hits(evidence_rows)
),

-- the episode's cities in order of first appearance
episode_cities as (
    select
        subject_id,
        episode,
        list(city order by first_seen, city) as cities,
        count(*) filter (where not is_home) as n_away
    from (
        select subject_id, episode, city, bool_or(is_home) as is_home, min(timestamp) as first_seen
        from trail
        group by subject_id, episode, city
    )
    group by subject_id, episode
),

final as (
    select
        t.subject_id,
        t.window_start,
        t.window_end,
        t.tx_count,
        t.amount_total,
        t.evidence,
        'transactions in ' || len(c.cities) || ' cities within '
            || (date_diff('day', t.window_start::date, t.window_end::date) + 1) || ' days ('
            || array_to_string(list_slice(c.cities, 1, 6), ' → ')
            || case when len(c.cities) > 6 then ' → ...' else '' end
            || '); ' || c.n_away || ' of them outside the account''s usual cities' as reason,
        'victim' as likely_role
    from episode_totals t
    join episode_cities c using (subject_id, episode)
)

select * from final
