-- One row per account with the behaviour features shared by the detectors and the
-- typologies. Every transaction counts as an incoming leg of its destination and an
-- outgoing leg of its source (cash is a counterparty, never an account), as in
-- account_legs; the aggregates read the transactions' narrow columns directly, per side.
-- Parameters: $night_start_hour, $night_end_hour (night = hour >= start or hour < end),
-- $near_threshold_ratio (cash in [ratio * threshold, threshold)).
with mcc_flags as (
    -- one row per MCC with a flag per spend group the features use
    select
        mcc,
        bool_or(mcc_group = 'lodging') as is_lodging,
        bool_or(mcc_group = 'food_delivery') as is_food_delivery,
        bool_or(mcc_group = 'taxi_ridehail') as is_taxi,
        bool_or(mcc_group = 'advertising') as is_advertising,
        bool_or(mcc_group = 'prepaid_quasi_cash') as is_prepaid,
        bool_or(mcc_group in ('luxury', 'nightlife')) as is_luxury
    from ref_mcc_groups
    group by mcc
),

flagged as not materialized (
    -- one row per transaction with the columns and flags both of its legs read. Not
    -- materialized: each reader computes the few flags it selects from the compressed
    -- transactions, where a copy of every row with every flag (at 100M transactions, more
    -- than the memory limit) would spill. The spend groups of the MCC are joined by the
    -- outgoing side alone, the only reader of them
    select
        t.src_account,
        t.dst_account,
        t.timestamp,
        t.amount_rep,
        t.channel,
        t.mcc,
        t.dst_country,
        hour(t.timestamp) >= $night_start_hour or hour(t.timestamp) < $night_end_hour as is_night,
        t.channel in ('cash_deposit', 'cash_withdrawal') as is_cash,
        t.src_country is not null and t.dst_country is not null
            and t.src_country <> t.dst_country as is_cross_border,
        t.amount % 100 = 0 as is_round,
        t.channel in ('cash_deposit', 'cash_withdrawal')
            and t.amount_rep >= $near_threshold_ratio * coalesce(th.threshold, 10000)
            and t.amount_rep < coalesce(th.threshold, 10000) as is_near_threshold
    from transactions t
    left join ref_cash_threshold th on th.currency = t.currency
),

incoming as (
    -- the incoming legs, per destination account
    select
        dst_account as account_id,
        count(*) as in_count,
        sum(amount_rep) as in_amount,
        sum(amount_rep) filter (where is_cash) as cash_in_amount,
        count(*) filter (where is_night) as night_count,
        count(*) filter (where is_night and is_cash) as night_cash_count,
        count(*) filter (where is_cash) as cash_count,
        count(*) filter (where is_cross_border) as cross_border_count,
        count(*) filter (where is_round) as round_count,
        count(*) filter (where is_near_threshold) as near_threshold_count,
        count(*) filter (where channel = 'p2p') as p2p_in_count,
        min(timestamp) as first_seen,
        max(timestamp) as last_seen
    from flagged
    where dst_account <> cash_account()
    group by dst_account
),

outgoing as (
    -- the outgoing legs, per source account
    select
        src_account as account_id,
        count(*) as out_count,
        sum(amount_rep) as out_amount,
        sum(amount_rep) filter (where is_cash) as cash_out_amount,
        count(*) filter (where is_night) as night_count,
        count(*) filter (where is_night and is_cash) as night_cash_count,
        count(*) filter (where is_cash) as cash_count,
        count(*) filter (where is_cross_border) as cross_border_count,
        count(*) filter (where is_round) as round_count,
        count(*) filter (where is_near_threshold) as near_threshold_count,
        sum(amount_rep) filter (where channel = 'card') as card_spend,
        -- an MCC outside every spend group (no mcc_flags row) counts in none
        sum(amount_rep) filter (where m.is_lodging) as lodging_spend,
        sum(amount_rep) filter (where m.is_food_delivery) as food_delivery_spend,
        sum(amount_rep) filter (where m.is_taxi) as taxi_spend,
        sum(amount_rep) filter (where m.is_advertising) as advertising_spend,
        sum(amount_rep) filter (where m.is_prepaid) as prepaid_spend,
        sum(amount_rep) filter (where m.is_luxury) as luxury_spend,
        min(timestamp) as first_seen,
        max(timestamp) as last_seen
    from flagged f
    left join mcc_flags m on m.mcc = f.mcc
    where src_account <> cash_account()
    group by src_account
),

per_account as (
    select
        coalesce(i.account_id, o.account_id) as account_id,
        coalesce(i.in_count, 0) as in_count,
        coalesce(o.out_count, 0) as out_count,
        coalesce(i.in_amount, 0)::double as in_amount,
        coalesce(o.out_amount, 0)::double as out_amount,
        coalesce(i.cash_in_amount, 0)::double as cash_in_amount,
        coalesce(o.cash_out_amount, 0)::double as cash_out_amount,
        coalesce(i.night_count, 0) + coalesce(o.night_count, 0) as night_count,
        coalesce(i.night_cash_count, 0) + coalesce(o.night_cash_count, 0) as night_cash_count,
        coalesce(i.cash_count, 0) + coalesce(o.cash_count, 0) as cash_count,
        coalesce(i.cross_border_count, 0) + coalesce(o.cross_border_count, 0)
            as cross_border_count,
        coalesce(i.round_count, 0) + coalesce(o.round_count, 0) as round_count,
        coalesce(i.near_threshold_count, 0) + coalesce(o.near_threshold_count, 0)
            as near_threshold_count,
        coalesce(i.p2p_in_count, 0) as p2p_in_count,
        coalesce(o.card_spend, 0)::double as card_spend,
        coalesce(o.lodging_spend, 0)::double as lodging_spend,
        coalesce(o.food_delivery_spend, 0)::double as food_delivery_spend,
        coalesce(o.taxi_spend, 0)::double as taxi_spend,
        coalesce(o.advertising_spend, 0)::double as advertising_spend,
        coalesce(o.prepaid_spend, 0)::double as prepaid_spend,
        coalesce(o.luxury_spend, 0)::double as luxury_spend,
        least(i.first_seen, o.first_seen) as first_seen,
        greatest(i.last_seen, o.last_seen) as last_seen
    from incoming i
    full join outgoing o on o.account_id = i.account_id
),

pair_days as (
    -- one row per pair of parties and day they exchanged money, the pair ordered (lo < hi)
    -- with the money each way: the distinct counterparties per account and day below
    -- become plain counts, which DuckDB computes far faster than count(distinct ...)
    select
        least(src_key, dst_key) as lo,
        greatest(src_key, dst_key) as hi,
        day,
        sum(amount_rep) filter (where src_key < dst_key) as lo_to_hi,
        sum(amount_rep) filter (where src_key > dst_key) as hi_to_lo
    -- the parties by their account_keys (cash 0): at scale about one row per transaction,
    -- grouped as integers
    from keyed_transactions(transactions, account_keys)
    group by all
),

day_sides as (
    -- each pair-day seen from both of its parties (cash, key 0, is never an account).
    -- One read of pair_days, each row paired with its two sides: read twice, pair_days
    -- would be materialised first (at 100M transactions about 100M rows, spilled)
    select
        case when s.side = 0 then p.lo else p.hi end as account_key,
        p.day,
        case when s.side = 0 then p.hi_to_lo else p.lo_to_hi end as day_in,
        case when s.side = 0 then p.lo_to_hi else p.hi_to_lo end as day_out
    from pair_days p
    cross join (values (0), (1)) as s(side)
    where account_key <> 0
),

per_day as (
    select
        account_key,
        day,
        count(day_in) as senders,
        count(day_out) as receivers,
        -- at least 80% of the money that came in on the day also went out; decided here,
        -- so the window below sorts narrow rows instead of two decimal sums per day
        coalesce(sum(day_in), 0) > 0
            and coalesce(sum(day_out), 0) >= 0.8 * coalesce(sum(day_in), 0) as is_pass_through
    from day_sides
    group by account_key, day
),

daily_summary as (
    select
        k.account_id,
        d.* exclude (account_key)
    from (
        select
            account_key,
            count(*) as active_days,
            max(senders) as max_daily_senders,
            max(receivers) as max_daily_receivers,
            count(*) filter (where is_pass_through) as pass_through_days,
            coalesce(max(gap), 0) as longest_gap_days
        from (
            select *, day - lag(day) over (partition by account_key order by day) as gap
            from per_day
        )
        group by account_key
    ) d
    join account_keys k using (account_key)
),

pair_sides as (
    -- each pair of parties seen from both of its parties, with whether money went each
    -- way (pair_flows holds each pair once with its money each way over the scan, NULL
    -- where none went): one read of pair_flows, each row paired with its two sides
    select
        case when s.side = 0 then p.lo_key else p.hi_key end as account_key,
        (case when s.side = 0 then p.hi_to_lo else p.lo_to_hi end) is not null as paid_by,
        (case when s.side = 0 then p.lo_to_hi else p.hi_to_lo end) is not null as paid_to,
        (case when s.side = 0 then p.hi_key else p.lo_key end) <> 0 as counterparty_is_account
    from pair_flows p
    cross join (values (0), (1)) as s(side)
    where account_key <> 0
),

counterparties as (
    select
        k.account_id,
        c.* exclude (account_key)
    from (
        select
            account_key,
            count(*) filter (where paid_by) as in_counterparties,
            count(*) filter (where paid_to) as out_counterparties,
            -- counterparties that both paid and were paid by the account (2-cycles)
            count(*) filter (where paid_by and paid_to and counterparty_is_account)
                as mutual_counterparties
        from pair_sides
        group by account_key
    ) c
    join account_keys k using (account_key)
),

city_sides as (
    -- the cities need none of the flags: read from the transactions without the reference
    -- joins
    select src_account as account_id, merchant_city
    from transactions
    where merchant_city is not null and src_account <> cash_account()
    union all
    select dst_account, merchant_city
    from transactions
    where merchant_city is not null and dst_account <> cash_account()
),

cities as (
    select account_id, count(*) as distinct_cities
    from (select distinct account_id, merchant_city from city_sides)
    group by account_id
),

foreign_countries as (
    select src_account as account_id, count(distinct dst_country) as foreign_countries_out
    from flagged
    where is_cross_border and src_account <> cash_account()
    group by src_account
),

final as (
    select
        a.account_id,
        a.in_count,
        a.out_count,
        a.in_amount,
        a.out_amount,
        c.in_counterparties,
        c.out_counterparties,
        a.in_amount / nullif(a.in_count, 0) as avg_in_amount,
        a.out_amount / nullif(a.out_count, 0) as avg_out_amount,
        least(a.in_amount, a.out_amount) / nullif(greatest(a.in_amount, a.out_amount), 0)
            as flow_balance,
        d.pass_through_days::double / d.active_days as pass_through_day_share,
        a.cash_in_amount / nullif(a.in_amount, 0) as cash_in_share,
        a.cash_out_amount / nullif(a.out_amount, 0) as cash_out_share,
        a.night_count::double / (a.in_count + a.out_count) as night_share,
        a.night_cash_count::double / nullif(a.cash_count, 0) as night_cash_share,
        a.cross_border_count::double / (a.in_count + a.out_count) as cross_border_share,
        coalesce(fc.foreign_countries_out, 0) as foreign_countries_out,
        a.round_count::double / (a.in_count + a.out_count) as round_amount_share,
        a.near_threshold_count,
        a.p2p_in_count::double / nullif(a.in_count, 0) as p2p_in_share,
        a.card_spend / nullif(a.out_amount, 0) as card_spend_share,
        a.lodging_spend / nullif(a.card_spend, 0) as lodging_share,
        a.food_delivery_spend / nullif(a.card_spend, 0) as food_delivery_share,
        a.taxi_spend / nullif(a.card_spend, 0) as taxi_share,
        a.advertising_spend / nullif(a.card_spend, 0) as advertising_share,
        a.prepaid_spend / nullif(a.card_spend, 0) as prepaid_share,
        a.luxury_spend / nullif(a.card_spend, 0) as luxury_share,
        coalesce(ci.distinct_cities, 0) as distinct_cities,
        d.active_days,
        (a.in_count + a.out_count)::double / d.active_days as tx_per_active_day,
        d.max_daily_senders,
        d.max_daily_receivers,
        d.longest_gap_days,
        c.mutual_counterparties,
        date_diff('day', acc.opened_at, a.first_seen) as account_age_days,
        acc.customer_type,
        acc.segment,
        a.first_seen,
        a.last_seen
    from per_account a
    join daily_summary d using (account_id)
    join counterparties c using (account_id)
    left join cities ci using (account_id)
    left join foreign_countries fc using (account_id)
    left join accounts acc using (account_id)
)

select * from final order by account_id
