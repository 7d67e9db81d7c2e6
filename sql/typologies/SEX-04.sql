-- SEX-04: hotel anomalies - round-sum bills, a refund of the same amount, two charges at
-- one hotel on the same day.
--
-- Room bills are lodging payments of at least min_room_amount (smaller ones are parking,
-- minibar and other incidentals). Each gets up to three marks: round sum (a multiple of
-- round_unit), refunded (a credit from the same hotel to the same account, of
-- the same amount and currency, within refund_days), same-day double (another payment to
-- the same hotel on the same day). A window of window_days qualifies when it holds at
-- least min_marked payments carrying at least min_kinds different marks: each mark alone
-- is common (prices with tax included, cancellations, a room and a bar bill).
-- customer-side lodging payments (card_purchases: the hotel's refunds and credits are not
-- payments)
with room_bills as materialized (
    select p.*
    from card_purchases p
    where p.mcc in (select mcc from ref_mcc_groups where mcc_group = 'lodging')
      -- room bills only: a room and a minibar bill on one day are not two rooms
      and p.amount_rep >= $min_room_amount
),

-- a window's marked payments are room bills of its account, and its kinds of mark are
-- at most those the account's bills can carry: round sums and same-day doubles only if
-- some bill is one, a refund always. An account with fewer than min_marked room bills
-- over the whole export, or fewer possible kinds than min_kinds, has no qualifying
-- window; marks, refunds and windows stay within one account, so the others are dropped
-- before them
candidate_subjects as (
    select subject_id
    from room_bills
    group by subject_id
    having count(*) >= $min_marked
       and bool_or(amount % $round_unit = 0)::integer
           + (count(*) > count(distinct (merchant_id, day)))::integer
           + 1 >= $min_kinds
),

charges as materialized (
    select
        p.*,
        p.merchant_id as hotel_id,
        -- FT16: rounded sum hotel transactions
        p.amount % $round_unit = 0 as is_round,
        -- FT16: two separate rooms for the same dates; the export has the charge day only
        count(*) over (partition by p.subject_id, p.merchant_id, p.day) >= 2 as is_double
    from room_bills p
    semi join candidate_subjects s on s.subject_id = p.subject_id
),

-- credits from a hotel to one of its paying customers (any channel, with or without MCC);
-- the accounts alone are tested first, while the scan reads them
hotel_credits as (
    select t.tx_id, t.timestamp, t.src_account as hotel_id, t.dst_account as subject_id,
           t.amount, t.currency, t.amount_rep
    from transactions t
    semi join candidate_subjects s on s.subject_id = t.dst_account
    semi join (select distinct subject_id, hotel_id from charges) c
        on c.subject_id = t.dst_account and c.hotel_id = t.src_account
),

-- FT16: hotel transactions followed by a refund for the same amount (FT21: the hotel was
-- then paid in cash). Each credit refunds one charge: the latest earlier one it matches,
-- so a duplicate charge reversed once marks one charge, not two.
refunds as (
    select
        r.tx_id as refund_tx_id,
        arg_max(c.tx_id, (c.timestamp, c.tx_id)) as charge_tx_id,
        any_value(r.timestamp) as refund_ts,
        any_value(r.amount_rep) as refund_rep
    from hotel_credits r
    join charges c
        on c.subject_id = r.subject_id
        and c.hotel_id = r.hotel_id
        and c.amount = r.amount
        and c.currency = r.currency
        and r.timestamp > c.timestamp
        and r.timestamp <= c.timestamp + to_days($refund_days)
    group by r.tx_id
),

marked as (
    select
        c.*,
        r.refund_tx_id is not null as is_refunded,
        r.refund_tx_id,
        r.refund_ts,
        r.refund_rep
    from charges c
    left join (
        -- a charge refunded by two credits keeps the first
        select charge_tx_id, arg_min(refund_tx_id, (refund_ts, refund_tx_id)) as refund_tx_id,
               min(refund_ts) as refund_ts, arg_min(refund_rep, (refund_ts, refund_tx_id)) as refund_rep
        from refunds group by charge_tx_id
    ) r on r.charge_tx_id = c.tx_id
    where c.is_round or c.is_double or r.refund_tx_id is not null
),

anchored as (
    select
        subject_id,
        timestamp as anchor,
        count(*) over w as n_marked,
        count(*) filter (where is_round) over w as n_round,
        count(*) filter (where is_double) over w as n_double,
        count(*) filter (where is_refunded) over w as n_refunded
    from marked
    window w as (
        partition by subject_id order by timestamp
        range between current row and to_days($window_days) following
    )
),

qualifying as (
    select subject_id, anchor as window_start, anchor + to_days($window_days) as window_limit
    from anchored
    where n_marked >= $min_marked
      and (n_round > 0)::integer + (n_double > 0)::integer + (n_refunded > 0)::integer >= $min_kinds
),

-- overlapping qualifying windows of one account form one episode
episode_bounds as (
    select * from merged_windows(qualifying)
),

episode_charges as (
    select e.episode, m.*
    from episode_bounds e
    join marked m
        on m.subject_id = e.subject_id
        and m.timestamp >= e.episode_start
        and m.timestamp <= e.episode_limit
),

evidence_rows as (
    select
        subject_id, episode, tx_id, timestamp, amount_rep,
        'lodging payment of ' || format('{:,.2f}', amount::double) || ' ' || currency
            || ' to ' || merchant || ' ('
            || concat_ws('; ',
                case when is_round then 'round sum' end,
                case when is_double then 'another charge at this hotel the same day' end,
                case when is_refunded then 'refunded in full on ' || strftime(refund_ts, '%Y-%m-%d') end)
            || ')' as why
    from episode_charges
    union all
    select
        subject_id, episode, refund_tx_id, refund_ts, refund_rep,
        'refund of ' || format('{:,.2f}', amount::double) || ' ' || currency || ' from '
            || merchant || ', the full amount of the payment of ' || strftime(timestamp, '%Y-%m-%d')
    from episode_charges
    where is_refunded
),

charge_totals as (
    select
        subject_id,
        episode,
        count(*) as n_marked,
        count(*) filter (where is_round) as n_round,
        count(*) filter (where is_double) as n_double,
        count(*) filter (where is_refunded) as n_refunded,
        count(distinct hotel_id) as n_hotels,
        list_sort(list_distinct(list(merchant))) as hotels,
        count(distinct currency) = 1 as one_currency,
        min(currency) as currency,
        min(amount) as min_amount,
        max(amount) as max_amount,
        min(amount_rep) as min_rep,
        max(amount_rep) as max_rep
    from episode_charges
    group by subject_id, episode
),

evidence_totals as (
    select
        subject_id,
        episode,
        min(timestamp) as window_start,
        max(timestamp) as window_end,
        count(*) as tx_count,
        sum(amount_rep) as amount_total,
        list({'tx_id': tx_id, 'why': why} order by timestamp, tx_id) as evidence
    from evidence_rows
    group by subject_id, episode
),

final as (
    select
        e.subject_id,
        e.window_start,
        e.window_end,
        e.tx_count,
        e.amount_total,
        e.evidence,
        c.n_marked || ' unusual lodging payments of '
            || money_range_text(c.min_amount, c.max_amount, c.min_rep, c.max_rep, c.one_currency, c.currency)
            || ' at ' || array_to_string(list_slice(c.hotels, 1, 3), ', ')
            || case when len(c.hotels) > 3 then ' and ' || (len(c.hotels) - 3) || ' more' else '' end
            || ' within '
            || greatest(1, date_diff('day', e.window_start, e.window_end)) || ' days: '
            || concat_ws(', ',
                case when c.n_round > 0 then c.n_round || ' round sum'
                     || case when c.n_round > 1 then 's' else '' end end,
                case when c.n_double > 0 then c.n_double || ' same-day charges at one hotel' end,
                case when c.n_refunded > 0 then c.n_refunded || ' refunded in full within '
                     || $refund_days || ' days' end) as reason,
        'unknown' as likely_role
    from evidence_totals e
    join charge_totals c using (subject_id, episode)
)

select * from final
