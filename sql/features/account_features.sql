-- One row per account with the behaviour features shared by the detectors and the
-- typologies, from the transactions' legs (account_legs: an outgoing leg for the source, an
-- incoming leg for the destination; cash is a counterparty, never an account).
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

enriched as materialized (
    select
        l.account_id, l.direction, l.counterparty, l.tx_id, l.timestamp, l.day, l.amount,
        l.amount_rep, l.currency, l.channel, l.mcc, l.merchant_city, l.src_country,
        l.dst_country,
        hour(l.timestamp) >= $night_start_hour or hour(l.timestamp) < $night_end_hour as is_night,
        l.channel in ('cash_deposit', 'cash_withdrawal') as is_cash,
        l.src_country is not null and l.dst_country is not null
            and l.src_country <> l.dst_country as is_cross_border,
        l.amount % 100 = 0 as is_round,
        l.channel in ('cash_deposit', 'cash_withdrawal')
            and l.amount_rep >= $near_threshold_ratio * coalesce(th.threshold, 10000)
            and l.amount_rep < coalesce(th.threshold, 10000) as is_near_threshold,
        coalesce(m.is_lodging, false) as is_lodging,
        coalesce(m.is_food_delivery, false) as is_food_delivery,
        coalesce(m.is_taxi, false) as is_taxi,
        coalesce(m.is_advertising, false) as is_advertising,
        coalesce(m.is_prepaid, false) as is_prepaid,
        coalesce(m.is_luxury, false) as is_luxury
    from account_legs l
    left join mcc_flags m on m.mcc = l.mcc
    left join ref_cash_threshold th on th.currency = l.currency
),

day_pairs as materialized (
    -- one row per account, day, direction and counterparty: distinct counts below become
    -- plain counts, which DuckDB computes far faster than count(distinct ...)
    select account_id, day, direction, counterparty, sum(amount_rep) as amount
    from enriched
    group by all
),

per_day as (
    select
        account_id,
        day,
        count(*) filter (where direction = 'in') as senders,
        count(*) filter (where direction = 'out') as receivers,
        coalesce(sum(amount) filter (where direction = 'in'), 0) as day_in,
        coalesce(sum(amount) filter (where direction = 'out'), 0) as day_out
    from day_pairs
    group by account_id, day
),

daily_summary as (
    select
        account_id,
        count(*) as active_days,
        max(senders) as max_daily_senders,
        max(receivers) as max_daily_receivers,
        -- days on which at least 80% of the money that came in also went out
        count(*) filter (where day_in > 0 and day_out >= 0.8 * day_in) as pass_through_days,
        coalesce(max(gap), 0) as longest_gap_days
    from (
        select *, day - lag(day) over (partition by account_id order by day) as gap
        from per_day
    )
    group by account_id
),

pairs as (
    select account_id, counterparty,
           bool_or(direction = 'in') as paid_by, bool_or(direction = 'out') as paid_to
    from day_pairs
    group by account_id, counterparty
),

counterparties as (
    select
        account_id,
        count(*) filter (where paid_by) as in_counterparties,
        count(*) filter (where paid_to) as out_counterparties,
        -- counterparties that both paid and were paid by the account (2-cycles)
        count(*) filter (where paid_by and paid_to and counterparty <> cash_account())
            as mutual_counterparties
    from pairs
    group by account_id
),

places as (
    select
        account_id,
        count(distinct merchant_city) as distinct_cities,
        count(distinct case when is_cross_border and direction = 'out' then dst_country end)
            as foreign_countries_out
    from enriched
    where merchant_city is not null or is_cross_border
    group by account_id
),

per_account as (
    select
        account_id,
        count(*) filter (where direction = 'in') as in_count,
        count(*) filter (where direction = 'out') as out_count,
        coalesce(sum(amount_rep) filter (where direction = 'in'), 0)::double as in_amount,
        coalesce(sum(amount_rep) filter (where direction = 'out'), 0)::double as out_amount,
        coalesce(sum(amount_rep) filter (where is_cash and direction = 'in'), 0)::double as cash_in_amount,
        coalesce(sum(amount_rep) filter (where is_cash and direction = 'out'), 0)::double as cash_out_amount,
        count(*) filter (where is_night) as night_count,
        count(*) filter (where is_night and is_cash) as night_cash_count,
        count(*) filter (where is_cash) as cash_count,
        count(*) filter (where is_cross_border) as cross_border_count,
        count(*) filter (where is_round) as round_count,
        count(*) filter (where is_near_threshold) as near_threshold_count,
        count(*) filter (where channel = 'p2p' and direction = 'in') as p2p_in_count,
        coalesce(sum(amount_rep) filter (where channel = 'card' and direction = 'out'), 0)::double as card_spend,
        coalesce(sum(amount_rep) filter (where is_lodging and direction = 'out'), 0)::double as lodging_spend,
        coalesce(sum(amount_rep) filter (where is_food_delivery and direction = 'out'), 0)::double as food_delivery_spend,
        coalesce(sum(amount_rep) filter (where is_taxi and direction = 'out'), 0)::double as taxi_spend,
        coalesce(sum(amount_rep) filter (where is_advertising and direction = 'out'), 0)::double as advertising_spend,
        coalesce(sum(amount_rep) filter (where is_prepaid and direction = 'out'), 0)::double as prepaid_spend,
        coalesce(sum(amount_rep) filter (where is_luxury and direction = 'out'), 0)::double as luxury_spend,
        min(timestamp) as first_seen,
        max(timestamp) as last_seen
    from enriched
    group by account_id
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
        coalesce(p.foreign_countries_out, 0) as foreign_countries_out,
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
        coalesce(p.distinct_cities, 0) as distinct_cities,
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
    left join places p using (account_id)
    left join accounts acc using (account_id)
)

select * from final order by account_id
