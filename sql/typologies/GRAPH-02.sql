-- GRAPH-02: fan-out. One account sends money to at least min_sinks distinct accounts
-- within window_days consecutive calendar days.
--
-- The windows come from counterparty_windows of sql/macros (shared with GRAPH-01's
-- fan-in): distinct payees are counted on day buckets (an upper bound from daily counts
-- prunes most windows, the rest get an exact count through an equi-join on (sender,
-- day)); a sender that ever pays more than max_sinks payees in one window is a disburser
-- (payroll bureau, marketplace or insurer paying out: its fan-out is its business, and
-- the peer-group detectors judge its volume) and none of its windows counts; nor do
-- windows below min_total (a few small gifts or refunds to several people are not a
-- distribution). Payments below min_payment (a share of a dinner or a trip paid back),
-- payments to a payee that also paid the account during the scan (friends and
-- relatives paying each other back) and payments to a payee paid in recurring_months
-- calendar months (standing relationships) are not counted; disbursers are found on
-- every outflow. An episode must pay more than the account's other debits pay on
-- average over as many days (its own history). The counts read a few narrow columns of
-- every outflow; only the payers with a window are read in full, and only they can be
-- disbursers that lose their windows. Nothing joins an account's whole history with
-- itself.
with outflows as materialized (
    -- the columns the counts read; the payers that end up with a window are read again
    -- in full below
    select src_account as subject_id, dst_account as payee, day, amount_rep
    from transactions
    -- payroll (ach) and card spend are the classic false fan-outs; cash withdrawals
    -- have no receiving account and cash deposits no sending account
    where list_contains($channels::varchar[], channel)
      and src_account <> cash_account()
      and dst_account <> cash_account()
),

-- each payer-payee pair once, keyed by 64-bit hashes of the two ids (two pairs of one
-- account sharing a hash are vanishingly unlikely), with the calendar months it was paid
-- in
pairs as materialized (
    select
        hash(subject_id) as subject_key,
        hash(payee) as payee_key,
        count(distinct date_trunc('month', day)) as months
    from outflows
    group by subject_key, payee_key
),

-- two-way pairs: the payee also paid the account (a transfer, not card or cash) during
-- the scan. Friends and relatives pay each other back; a controller's distribution
-- flows one way, to layering accounts, recruiters and associates. Such a payment is
-- itself one of the outflows (both parties accounts, a counted channel), so the
-- reverse pair is looked up among the pairs.
-- Standing payees: paid in recurring_months calendar months of the scan (rent, a
-- relative, a savings or investment account, a supplier or a friend paid again and
-- again). A controller's distribution reaches layering accounts once; a payee the
-- account keeps paying month after month is part of its ordinary life
excluded_pairs as materialized (
    select p.subject_key, p.payee_key
    from pairs p
    where p.months >= $recurring_months
    union all
    select p.subject_key, p.payee_key
    from pairs p
    semi join pairs r on r.subject_key = p.payee_key and r.payee_key = p.subject_key
),

-- counted payments: at least min_payment each, one way, to a payee that is no standing
-- relationship (payers that are disbursers are left out below)
payee_links as (
    select l.*, l.payee as counterparty
    from outflows l
    anti join excluded_pairs x
        on x.subject_key = hash(l.subject_id) and x.payee_key = hash(l.payee)
    where l.amount_rep >= $min_payment
),

-- the payers with a window of enough payees; every transaction they sent is read in
-- full, for their episodes, their disburser test and their baseline
candidate_payers as (
    select distinct subject_id
    from counterparty_windows(
        payee_links, $window_days, $min_sinks, $max_sinks, $min_total)
),

payer_transactions as materialized (
    select
        t.src_account as subject_id,
        t.dst_account as payee,
        t.tx_id, t.timestamp, t.day, t.amount, t.currency, t.amount_rep, t.channel
    from transactions t
    semi join candidate_payers c on c.subject_id = t.src_account
),

all_links as (
    select *, payee as counterparty
    from payer_transactions
    where list_contains($channels::varchar[], channel)
      and payee <> cash_account()
),

-- the same counted payments of the candidate payers, with every column
candidate_links as (
    select l.*
    from all_links l
    anti join excluded_pairs x
        on x.subject_key = hash(l.subject_id) and x.payee_key = hash(l.payee)
    where l.amount_rep >= $min_payment
),

-- windows with enough payees, overlapping ones of a sender merged into one episode
-- (calendar days), and the episode's outflows (counterparty_episode_rows of sql/macros)
payer_episode_rows as materialized (
    select *
    from counterparty_episode_rows(
        candidate_links, $window_days, $min_sinks, $max_sinks, $min_total)
),

-- disbursers are judged on every outflow (a payer with more than max_sinks payees in a
-- window pays out as its business), small and two-way payments included
disbursers as (
    select distinct subject_id
    from counterparty_windows(all_links, $window_days, $max_sinks + 1, 2147483647, 0)
),

evidence_rows as (
    select
        o.*,
        'outflow of ' || format('{:,.2f}', o.amount::double) || ' ' || o.currency
            || ' to ' || o.payee || ' by ' || replace(o.channel, '_', ' ') as why
    from payer_episode_rows o
    anti join disbursers d on d.subject_id = o.subject_id
),

episode_facts as (
    select
        subject_id,
        episode,
        count(distinct payee) as payees,
        string_agg(distinct replace(channel, '_', ' '), ', ' order by replace(channel, '_', ' ')) as channels,
        date_diff('day', min(day), max(day)) + 1 as days
    from evidence_rows
    group by subject_id, episode
),

-- what the account usually pays out: its debits of every channel over the days from its
-- first to its last transaction in the scan (account_features holds the first and last
-- timestamps of both sides of every account)
baselines as (
    select
        o.subject_id,
        o.outflow,
        date_diff('day', f.first_seen::date, f.last_seen::date) + 1 as active_days
    from (
        select subject_id, sum(amount_rep) as outflow
        from payer_transactions
        semi join (select distinct subject_id from evidence_rows) e using (subject_id)
        group by subject_id
    ) o
    join account_features f on f.account_id = o.subject_id
),

final as (
    select
        subject_id,
        window_start,
        window_end,
        tx_count,
        amount_total,
        evidence,
        'paid ' || payees || ' payees '
            || money_text(amount_own, amount_total, one_currency, currency)
            || ' in ' || tx_count || ' transfer' || case when tx_count = 1 then '' else 's' end
            || ' (' || channels || ') within ' || days || ' day'
            || case when days = 1 then '' else 's' end as reason,
        'controller' as likely_role
    -- amounts are quoted in their own currency when the episode has only one
    from episode_hits(evidence_rows) h
    join episode_facts f using (subject_id, episode)
    join baselines b using (subject_id)
    -- the fan-out pays more than the account's other debits pay on average in as many
    -- days (at least window_days): a distribution of collected money is a burst on top
    -- of the account's outflows, while a week in which a household with a large income
    -- pays several people instead of shops is its ordinary spending
    where h.amount_total > $baseline_multiple * (b.outflow - h.amount_total) / b.active_days
                           * greatest(f.days, $window_days)
)

select * from final
