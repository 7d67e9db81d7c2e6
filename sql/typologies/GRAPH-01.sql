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
-- dinner) are set aside. An episode must bring more than the account's other credits
-- bring on average over as many days (its own history). The counts read a few narrow
-- columns of every inflow; only the receivers with a window are read in full, and only
-- they can be hubs that lose their windows. Nothing joins an account's whole history
-- with itself.
with inflows as materialized (
    -- card payments to shops are the classic false fan-in: channels leaves cards out.
    -- The columns the counts read; the receivers that end up with a window are read
    -- again in full below
    select subject_id, sender, day, amount_rep
    from fan_in_inflows(transactions, $channels, $recurring_months)
),

-- counted inflows: at least min_payment each (receivers that are hubs are left out
-- below). A sender the account also pays stays counted: an employer taking fees back
-- from the workers it pays, or a controller paying victims' costs and collecting their
-- earnings, is the debt-bondage shape (LAB-07), not friends settling up
sender_links as (
    select *, sender as counterparty
    from inflows
    where amount_rep >= $min_payment
),

-- the receivers with a window of enough senders; every transaction they received is
-- read in full, for their episodes, their hub test and their baseline. Standing
-- relationships are pairs of a sender and a receiver, so the inflows of these receivers
-- alone decide which of their senders are standing
candidate_receivers as (
    select distinct subject_id
    from counterparty_windows(
        sender_links, $window_days, $min_sources, $max_sources, $min_total)
),

receiver_transactions as materialized (
    select
        t.tx_id, t.timestamp, t.day, t.src_account, t.dst_account, t.amount, t.currency,
        t.amount_rep, t.channel, t.description
    from transactions t
    semi join candidate_receivers c on c.subject_id = t.dst_account
),

all_links as (
    select *, sender as counterparty
    from fan_in_inflows(receiver_transactions, $channels, $recurring_months)
),

candidate_links as (
    select * from all_links where amount_rep >= $min_payment
),

-- windows with enough senders, overlapping ones of a receiver merged into one episode
-- (calendar days), and the episode's inflows (counterparty_episode_rows of sql/macros)
receiver_episode_rows as materialized (
    select *
    from counterparty_episode_rows(
        candidate_links, $window_days, $min_sources, $max_sources, $min_total)
),

-- hubs are judged on every inflow (a receiver with more than max_sources senders in a
-- window is paid as its business), before small payments are set aside: a charity's
-- many small donors must not shrink into a few large ones
hubs as (
    select distinct subject_id
    from counterparty_windows(all_links, $window_days, $max_sources + 1, 2147483647, 0)
),

evidence_rows as (
    select
        i.*,
        'inflow of ' || format('{:,.2f}', i.amount::double) || ' ' || i.currency
            || ' from ' || i.sender || ' by ' || replace(i.channel, '_', ' ') as why
    from receiver_episode_rows i
    anti join hubs h on h.subject_id = i.subject_id
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

-- what the account usually receives: its inflows of every channel over the days from
-- its first to its last transaction in the scan (account_features holds the first and
-- last timestamps of both sides of every account)
baselines as (
    select
        i.subject_id,
        i.inflow,
        date_diff('day', f.first_seen::date, f.last_seen::date) + 1 as active_days
    from (
        select dst_account as subject_id, sum(amount_rep) as inflow
        from receiver_transactions
        semi join (select distinct subject_id from evidence_rows) e
            on e.subject_id = receiver_transactions.dst_account
        group by dst_account
    ) i
    join account_features f on f.account_id = i.subject_id
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
    join baselines b using (subject_id)
    -- the senders bring more than the account's other credits bring on average in as
    -- many days (at least window_days): a collector's payers are its main money in that
    -- time, while a handful of payments beside a salary many times larger is within its
    -- profile
    where h.amount_total > $baseline_multiple * (b.inflow - h.amount_total) / b.active_days
                           * greatest(f.days, $window_days)
)

select * from final
