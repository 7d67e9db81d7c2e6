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
-- every outflow first. An episode must pay more than the account's other debits pay on
-- average over as many days (its own history). Nothing joins an account's whole
-- history with itself.
with outflows as materialized (
    select
        src_account as subject_id,
        dst_account as payee,
        tx_id,
        timestamp,
        day,
        amount,
        currency,
        amount_rep,
        channel
    from transactions
    -- payroll (ach) and card spend are the classic false fan-outs; cash withdrawals
    -- have no receiving account and cash deposits no sending account
    where list_contains($channels::varchar[], channel)
      and src_account <> cash_account()
      and dst_account <> cash_account()
),

all_links as (
    select *, payee as counterparty from outflows
),

-- disbursers are judged on every outflow (a payer with more than max_sinks payees in a
-- window pays out as its business), before small and two-way payments are set aside
disbursers as (
    select distinct subject_id
    from counterparty_windows(all_links, $window_days, $max_sinks + 1, 2147483647, 0)
),

-- two-way pairs: the payee also paid the account (a transfer, not card or cash) during
-- the scan. Friends and relatives pay each other back; a controller's distribution
-- flows one way, to layering accounts, recruiters and associates
pairs as (
    select distinct subject_id, payee from outflows
),

two_way as (
    select p.subject_id, p.payee
    from pairs p
    semi join transactions t on t.src_account = p.payee and t.dst_account = p.subject_id
        and list_contains($channels::varchar[], t.channel)
),

-- standing payees: paid in recurring_months calendar months of the scan (rent, a
-- relative, a savings or investment account, a supplier or a friend paid again and
-- again). A controller's distribution reaches layering accounts once; a payee the
-- account keeps paying month after month is part of its ordinary life
recurring_payees as (
    select subject_id, payee
    from outflows
    group by subject_id, payee
    having count(distinct date_trunc('month', day)) >= $recurring_months
),

-- counted payments: at least min_payment each, one way, to a payee that is no standing
-- relationship, from a payer that is no disburser
payee_links as (
    select l.*
    from all_links l
    anti join disbursers d on d.subject_id = l.subject_id
    anti join two_way w on w.subject_id = l.subject_id and w.payee = l.payee
    anti join recurring_payees r on r.subject_id = l.subject_id and r.payee = l.payee
    where l.amount_rep >= $min_payment
),

-- windows with enough payees, overlapping ones of a sender merged into one episode
-- (calendar days), and the episode's outflows (counterparty_episode_rows of sql/macros)
evidence_rows as (
    select
        o.*,
        'outflow of ' || format('{:,.2f}', o.amount::double) || ' ' || o.currency
            || ' to ' || o.payee || ' by ' || replace(o.channel, '_', ' ') as why
    from counterparty_episode_rows(payee_links, $window_days, $min_sinks, $max_sinks, $min_total) o
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
-- first to its last transaction in the scan
baselines as (
    select
        l.account_id as subject_id,
        coalesce(sum(l.amount_rep) filter (where l.direction = 'out'), 0) as outflow,
        date_diff('day', min(l.day), max(l.day)) + 1 as active_days
    from account_legs l
    semi join (select distinct subject_id from evidence_rows) e on e.subject_id = l.account_id
    group by l.account_id
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
