-- BIZ-01: cash-intensive front business: a business account funded by frequent cash
-- deposits, out of scale with its peers, with no ACH or card credits at all.
--
-- Only accounts the accounts file marks business are read; without an accounts file the
-- typology returns nothing. The account must be out of scale over the export: its cash
-- deposits are above the peer_quantile of the other businesses of the same segment and at
-- least min_median_multiple times their median (with fewer than min_peers of them only
-- the window floors apply). A window of
-- window_days (calendar days, starting on a day with a cash deposit) then qualifies with
-- at least min_cash_deposits cash deposits adding up to min_cash_amount, cash at least
-- min_cash_share of all credits, and no credit at all in electronic_channels.
-- Overlapping windows make one hit.
with business_accounts as (
    select account_id, coalesce(segment, '') as segment
    from accounts
    where customer_type = 'business'
),

-- cash deposits over the export per business, from the shared feature table
business_cash as (
    select
        f.account_id,
        b.segment,
        coalesce(f.cash_in_share, 0) * coalesce(f.in_amount, 0) as cash_in
    from business_accounts b
    join account_features f using (account_id)
),

-- an account's peers are the other businesses of its segment: the window leaves its own
-- row out, so that in a small segment the account (and one other front) does not lift the
-- quantile it is compared with. A window over the segment (sorted once) rather than a list
-- of the others per account, whose size grows with the square of the segment
peer_sets as (
    select
        account_id,
        segment,
        cash_in,
        quantile_cont(cash_in, $peer_quantile) over others as peer_level,
        quantile_cont(cash_in, 0.5) over others as peer_median,
        count(*) over others as peers
    from business_cash
    window others as (
        partition by segment
        rows between unbounded preceding and unbounded following exclude current row
    )
),

-- FC23: deposits significantly greater than those of peers in the same line of business:
-- above their peer_quantile and min_median_multiple times their median
out_of_scale as (
    select
        account_id as subject_id,
        segment,
        cash_in,
        peer_level,
        peers
    from peer_sets
    where cash_in > 0
      and (peers < $min_peers
           or (cash_in > peer_level and cash_in >= $min_median_multiple * peer_median))
),

credits as materialized (
    select
        t.dst_account as subject_id,
        t.tx_id,
        t.timestamp,
        t.day,
        t.amount,
        t.currency,
        t.amount_rep,
        t.channel,
        t.channel = 'cash_deposit' as is_cash,
        list_contains($electronic_channels::varchar[], t.channel) as is_electronic
    from transactions t
    semi join out_of_scale o on o.subject_id = t.dst_account
    where t.src_account <> t.dst_account
),

credit_days as (
    select
        subject_id,
        day,
        count(*) filter (where is_cash) as n_cash,
        coalesce(sum(amount_rep) filter (where is_cash), 0) as cash_amount,
        count(*) filter (where is_electronic) as n_electronic,
        sum(amount_rep) as received
    from credits
    group by subject_id, day
),

-- every day with a cash deposit opens a window of window_days calendar days
anchored as (
    select
        subject_id,
        day,
        n_cash,
        sum(n_cash) over w as cash_deposits,
        sum(cash_amount) over w as cash_amount,
        sum(n_electronic) over w as electronic_credits,
        sum(received) over w as received
    from credit_days
    window w as (
        partition by subject_id order by day
        range between current row and ($window_days - 1) following
    )
),

qualifying as (
    select
        subject_id,
        day as window_start,
        day + ($window_days - 1)::integer as window_limit
    from anchored
    where n_cash > 0
      -- FC20 #4: frequent cash deposits ...
      and cash_deposits >= $min_cash_deposits
      and cash_amount >= $min_cash_amount
      -- ... with no ACH payments (FC20 #4) and no card settlements: nearly all in cash (FC20 #3)
      and electronic_credits = 0
      and cash_amount >= $min_cash_share * received
),

-- overlapping qualifying windows of one account form one episode (calendar days)
episode_bounds as (
    select * from merged_windows(qualifying)
),

evidence_rows as (
    select
        e.subject_id,
        e.episode,
        c.* exclude (subject_id),
        'cash deposit of ' || format('{:,.2f}', c.amount::double) || ' ' || c.currency as why
    from episode_bounds e
    join credits c
        on c.subject_id = e.subject_id
        and c.is_cash
        and c.day >= e.episode_start
        and c.day <= e.episode_limit
),

episode_facts as (
    select
        subject_id,
        episode,
        count(distinct day) as deposit_days
    from evidence_rows
    group by subject_id, episode
),

episode_totals as (
    select h.*, f.* exclude (subject_id, episode), o.* exclude (subject_id)
    from episode_hits(evidence_rows) h
    join episode_facts f using (subject_id, episode)
    join out_of_scale o using (subject_id)
),

final as (
    select
        subject_id,
        window_start,
        window_end,
        tx_count,
        amount_total,
        evidence,
        tx_count || ' cash deposits of '
            || case
                when one_currency then format('{:,.2f}', amount_own::double) || ' ' || currency
                else format('{:,.2f}', amount_total::double) || ' reporting currency' end
            || ' on ' || deposit_days || ' days within '
            || (date_diff('day', window_start::date, window_end::date) + 1) || ' days and no '
            || array_to_string(list_transform($electronic_channels::varchar[],
                lambda c: case when c in ('ach', 'p2p') then upper(c) else replace(c, '_', ' ') end), ' or ')
            || ' credits; cash deposits over the export '
            || format('{:,.2f}', cash_in::double) || ' (reporting currency), '
            || case
                when peers < $min_peers
                    then 'only ' || peers || case when peers = 1 then ' other business' else ' other businesses' end
                         || ' in segment ''' || segment || ''', no peer level'
                else 'above the peer level ' || format('{:,.2f}', peer_level::double)
                     || ' of the ' || peers || ' other businesses in segment ''' || segment || ''''
                end as reason,
        'business' as likely_role
    from episode_totals
)

select * from final
