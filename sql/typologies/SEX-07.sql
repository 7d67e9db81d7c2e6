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

presence_rows as (
    select
        case when t.channel = 'cash_deposit' then t.dst_account else t.src_account end as subject_id,
        t.tx_id,
        t.timestamp,
        t.day,
        t.amount,
        t.currency,
        t.amount_rep,
        t.channel,
        t.merchant_name,
        t.dst_account,
        upper(trim(t.merchant_city)) as city
    from transactions t
    where t.merchant_city is not null
      and (t.channel in ('cash_deposit', 'cash_withdrawal')
           or (t.channel = 'card'
               and t.mcc in (select mcc from presence_codes)))
),

-- card-not-present descriptors put a phone number or web address where the city goes;
-- checked once per distinct value
real_cities as (
    select city
    from (select distinct city from presence_rows)
    where city <> '' and not regexp_matches(city, '[0-9@/]|\.(COM|NET|ORG|CA|CO)\b|^WWW')
),

presence as materialized (
    select p.*
    from presence_rows p
    semi join real_cities c on c.city = p.city
    where p.subject_id <> cash_account()
      and p.subject_id not in (select account_id from business_accounts)
),

-- one row per account, city and day: everything up to the windows works on these
city_days_all as materialized (
    select subject_id, city, day
    from presence
    group by subject_id, city, day
),

city_day_counts as (
    select subject_id, city, count(*) as days
    from city_days_all
    group by subject_id, city
),

account_days as (
    select subject_id, count(distinct day) as days
    from city_days_all
    group by subject_id
),

-- "not matching travel history": cities the account uses routinely are home
city_status as (
    select
        c.subject_id,
        c.city,
        a.days >= $min_home_days and c.days >= $home_day_share * a.days as is_home
    from city_day_counts c
    join account_days a using (subject_id)
),

-- only accounts seen in enough cities, enough of them away from home, can qualify
subjects as (
    select subject_id
    from city_status
    group by subject_id
    having count(*) >= $min_cities and count(*) filter (where not is_home) >= $min_away_cities
),

city_days as (
    select d.subject_id, d.city, d.day, s.is_home
    from city_days_all d
    semi join subjects using (subject_id)
    join city_status s on s.subject_id = d.subject_id and s.city = d.city
),

-- a day with activity in a home city ends a trip: away cities count together only
-- within one trip
trips as (
    select
        subject_id,
        day,
        sum(home_day::integer) over (
            partition by subject_id order by day rows between unbounded preceding and current row
        ) as trip
    from (
        select subject_id, day, bool_or(is_home) as home_day
        from city_days
        group by subject_id, day
    )
),

-- Distinct cities in the window [d, d + window_days - 1] of every day d, without lists:
-- a city-day row is the first of its city in the window of every d from the day after
-- the city's previous day (or window_days - 1 earlier) up to its own day. Each row adds
-- +1 to that span of anchor days and a running sum over the days gives the count. Away
-- cities do the same within their trip (the span starts no earlier than the trip).
spans as (
    select
        c.subject_id,
        c.day,
        c.is_home,
        greatest(
            lag(c.day) over (partition by c.subject_id, c.city order by c.day) + 1,
            c.day - ($window_days - 1)::integer
        ) as first_anchor,
        greatest(
            lag(c.day) over (partition by c.subject_id, t.trip, c.city order by c.day) + 1,
            c.day - ($window_days - 1)::integer,
            min(c.day) over (partition by c.subject_id, t.trip)
        ) as first_anchor_in_trip
    from city_days c
    join trips t on t.subject_id = c.subject_id and t.day = c.day
),

deltas as (
    select subject_id, first_anchor as day, 1 as d_cities, 0 as d_away, false as is_anchor
    from spans
    union all
    select subject_id, day + 1, -1, 0, false from spans
    union all
    select subject_id, first_anchor_in_trip, 0, 1, false from spans where not is_home
    union all
    select subject_id, day + 1, 0, -1, false from spans where not is_home
    union all
    -- windows start on days with activity
    select subject_id, day, 0, 0, true from trips
),

anchored as (
    select
        subject_id,
        day,
        is_anchor,
        sum(d_cities) over running as n_cities,
        sum(d_away) over running as n_away
    from (
        select subject_id, day, sum(d_cities) as d_cities, sum(d_away) as d_away,
               bool_or(is_anchor) as is_anchor
        from deltas
        group by subject_id, day
    )
    window running as (
        partition by subject_id order by day rows between unbounded preceding and current row
    )
),

-- the holder's own travel: airline tickets and car rentals (booked before the trip)
travel_days as (
    select distinct p.subject_id, p.day
    from card_purchases p
    semi join subjects s using (subject_id)
    where p.mcc in (
        select mcc from ref_mcc_groups where list_contains($travel_groups::varchar[], mcc_group))
),

qualifying as (
    select
        subject_id,
        day::timestamp as window_start,
        (day + ($window_days - 1)::integer)::timestamp as window_limit
    from anchored a
    where is_anchor and n_cities >= $min_cities and n_away >= $min_away_cities
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

-- the trail: the first transaction in each city on each day of the episode
trail as (
    select
        e.episode,
        p.*,
        coalesce(p.merchant_name, 'merchant ' || p.dst_account) as merchant,
        s.is_home
    from episode_bounds e
    join presence p
        on p.subject_id = e.subject_id
        and p.day >= e.episode_start::date
        and p.day <= e.episode_limit::date
    join city_status s on s.subject_id = p.subject_id and s.city = p.city
    qualify row_number() over (
        partition by p.subject_id, e.episode, p.day, p.city order by p.timestamp, p.tx_id) = 1
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
