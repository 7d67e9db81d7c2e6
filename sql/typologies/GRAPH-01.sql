-- GRAPH-01: fan-in. At least min_sources distinct accounts send money to one account
-- within window_days consecutive calendar days.
--
-- The inflows and their windows come from macros of sql/macros (shared with CTRL-01
-- and, for the windows, GRAPH-02's fan-out): fan_in_inflows leaves out cash and standing
-- relationships (a sender paying the same account in recurring_months calendar months:
-- rent, a subscription, a family allowance; AMLSim's fan-in members each send once);
-- counterparty_windows counts distinct senders on day buckets (an upper bound from daily
-- counts prunes most windows, the rest get an exact count through an equi-join on
-- (receiver, day)), drops hubs with more than max_sources senders in one window
-- (merchant, biller, charity, marketplace: the peer-group detectors judge those) and
-- windows below min_total (friends splitting a bill). Hubs are judged on every inflow;
-- then inflows below min_payment (friends paying back their share of a trip or a
-- dinner) are set aside. Nothing joins an account's whole history with itself.
with inflows as materialized (
    -- card payments to shops are the classic false fan-in: channels leaves cards out
    select * from fan_in_inflows(transactions, $channels, $recurring_months)
),

all_links as (
    select *, sender as counterparty from inflows
),

-- hubs are judged on every inflow (a receiver with more than max_sources senders in a
-- window is paid as its business), before small payments are set aside: a
-- charity's many small donors must not shrink into a few large ones
hubs as (
    select distinct subject_id
    from counterparty_windows(all_links, $window_days, $max_sources + 1, 2147483647, 0)
),

-- counted inflows: at least min_payment each, to a receiver that is no hub. A sender
-- the account also pays stays counted: an employer taking fees back from the workers it
-- pays, or a controller paying victims' costs and collecting their earnings, is the
-- debt-bondage shape (LAB-07), not friends settling up
sender_links as (
    select l.*
    from all_links l
    anti join hubs h on h.subject_id = l.subject_id
    where l.amount_rep >= $min_payment
),

-- windows with enough senders, overlapping ones of a receiver merged into one episode
-- (calendar days), and the episode's inflows (counterparty_episode_rows of sql/macros)
evidence_rows as (
    select
        i.*,
        'inflow of ' || format('{:,.2f}', i.amount::double) || ' ' || i.currency
            || ' from ' || i.sender || ' by ' || replace(i.channel, '_', ' ') as why
    from counterparty_episode_rows(
        sender_links, $window_days, $min_sources, $max_sources, $min_total) i
),

episode_facts as (
    select
        subject_id,
        episode,
        count(distinct sender) as senders,
        string_agg(distinct replace(channel, '_', ' '), ', ' order by replace(channel, '_', ' ')) as channels,
        date_diff('day', min(day), max(day)) + 1 as days
    from evidence_rows
    group by subject_id, episode
),

final as (
    select
        subject_id,
        window_start,
        window_end,
        tx_count,
        amount_total,
        evidence,
        senders || ' senders paid '
            || money_text(amount_own, amount_total, one_currency, currency)
            || ' in ' || tx_count || ' transfer' || case when tx_count = 1 then '' else 's' end
            || ' (' || channels || ') within ' || days || ' day'
            || case when days = 1 then '' else 's' end as reason,
        'collector' as likely_role
    -- amounts are quoted in their own currency when the episode has only one
    from episode_hits(evidence_rows) h
    join episode_facts f using (subject_id, episode)
)

select * from final
