-- CTRL-01: collector. Many unrelated senders pay one account within window_days, and
-- the account passes at least min_forward_share of that money on to at most max_payees
-- payees within forward_hours after the last collected inflow.
--
-- The collection side is GRAPH-01's fan-in, from the same macros of engine/db.py:
-- fan_in_inflows leaves out cash and standing relationships (a sender paying the same
-- account in recurring_months calendar months: rent, a subscription, a family allowance,
-- not a victim or client handing over money); counterparty_windows counts distinct
-- senders on day buckets and drops hubs with more than max_sources senders in one window
-- and windows below min_total. Memos naming an escort agency or an alias lower the sender
-- threshold to min_senders_memo, so the windows are counted down to the lower of the two
-- thresholds, and memos are matched only on the inflows of those windows. The
-- forwarding side reads the outflows of the few collecting episodes through an
-- equi-join on (account, day bucket); payments to a standing payee (paid once a month
-- in recurring_months calendar months: rent, a loan) are not passing on. Nothing joins
-- an account's whole history with itself.
with inflows as materialized (
    -- card payments to shops are the classic false fan-in: in_channels leaves cards out
    select * from fan_in_inflows(transactions, $in_channels, $recurring_months)
),

sender_links as (
    select subject_id, sender as counterparty, day, amount_rep from inflows
),

fan_in as materialized (
    select *
    from counterparty_windows(
        sender_links, $window_days, least($min_senders, $min_senders_memo), $max_sources,
        $min_total
    )
),

-- each window copied onto each of its days, for an equi-join on the day
fan_in_days as materialized (
    select w.subject_id, w.window_start, w.window_start + k.day_offset::integer as day
    from fan_in w
    cross join generate_series(0, $window_days - 1) as k(day_offset)
),

-- memos of the inflows that the windows count, matched once per distinct text
candidate_memos as (
    select distinct i.description as text
    from inflows i
    semi join fan_in_days w on w.subject_id = i.subject_id and w.day = i.day
    where i.description is not null
),

memo_matches as (
    select text, string_agg(label, ', ' order by label) as labels
    from pattern_matches(candidate_memos, $memo_categories::varchar[])
    group by text
),

memo_inflows as materialized (
    select i.subject_id, i.day, i.tx_id, m.labels
    from inflows i
    join memo_matches m on m.text = i.description
),

window_memos as (
    select w.subject_id, w.window_start, count(*) as memo_inflows
    from fan_in_days w
    join memo_inflows m on m.subject_id = w.subject_id and m.day = w.day
    group by w.subject_id, w.window_start
),

collecting_windows as (
    select c.subject_id, c.window_start, c.window_limit
    from fan_in c
    left join window_memos m using (subject_id, window_start)
    where c.counterparties >= case when coalesce(m.memo_inflows, 0) > 0
                            then $min_senders_memo else $min_senders end
),

-- overlapping collecting windows of one receiver form one episode (calendar days)
episode_bounds as materialized (
    select * from merged_windows(collecting_windows)
),

episode_inflows as materialized (
    select e.subject_id, e.episode, i.* exclude (subject_id)
    from episode_bounds e
    join inflows i
        on i.subject_id = e.subject_id
        and i.day >= e.episode_start
        and i.day <= e.episode_limit
),

episode_in as (
    select
        subject_id,
        episode,
        min(timestamp) as first_in,
        max(timestamp) as last_in,
        sum(amount_rep) as in_rep
    from episode_inflows
    group by subject_id, episode
),

-- each episode copied onto the days its forwarding can fall on, for an equi-join
episode_out_days as (
    select
        e.subject_id, e.episode, e.first_in, e.last_in,
        e.first_in::date + k.day_offset::integer as day
    from episode_in e
    cross join generate_series(
        0, date_diff('day', e.first_in::date, e.last_in::date) + ceil($forward_hours / 24)::integer
    ) as k(day_offset)
),

-- the onward transfers of the collecting accounts, read once for both uses below: card
-- spend is consumption and cash has no payee
subject_outflows as materialized (
    select
        t.src_account as subject_id,
        t.dst_account as payee,
        t.tx_id, t.timestamp, t.day, t.amount, t.currency, t.amount_rep, t.channel
    from transactions t
    semi join (select distinct subject_id from episode_in) e on e.subject_id = t.src_account
    where list_contains($out_channels::varchar[], t.channel)
      and t.dst_account <> cash_account()
),

-- rent, a loan or a relative paid once a month in several calendar months is the
-- account's standing payment, due whatever came in that week; a controller collecting
-- after every episode (several times a month) stays counted
standing_payees as (
    select subject_id, payee
    from subject_outflows
    group by subject_id, payee
    having count(distinct date_trunc('month', day)) >= $recurring_months
       and count(*) <= count(distinct date_trunc('month', day))
),

episode_outflows as materialized (
    select
        d.subject_id,
        d.episode,
        o.payee,
        o.tx_id, o.timestamp, o.day, o.amount, o.currency, o.amount_rep, o.channel
    from episode_out_days d
    join subject_outflows o on o.subject_id = d.subject_id and o.day = d.day
    anti join standing_payees p on p.subject_id = o.subject_id and p.payee = o.payee
    where o.timestamp >= d.first_in
      and o.timestamp <= d.last_in + to_hours($forward_hours)
),

-- the payees that received most of the episode's outflows; at most max_payees count
payee_ranks as (
    select
        subject_id,
        episode,
        payee,
        sum(amount_rep) as payee_rep,
        row_number() over (
            partition by subject_id, episode order by sum(amount_rep) desc, payee
        ) as payee_rank
    from episode_outflows
    group by subject_id, episode, payee
),

forwarded as (
    select subject_id, episode, sum(payee_rep) as out_rep, count(*) as payees
    from payee_ranks
    where payee_rank <= $max_payees
    group by subject_id, episode
),

collector_episodes as (
    select e.subject_id, e.episode, e.in_rep, f.out_rep, f.payees
    from episode_in e
    join forwarded f using (subject_id, episode)
    where f.out_rep >= $min_forward_share * e.in_rep
),

episode_rows as (
    select
        i.subject_id, i.episode, i.tx_id, i.timestamp, i.amount, i.currency, i.amount_rep,
        'in' as direction, i.sender as counterparty, i.channel, m.labels
    from episode_inflows i
    semi join collector_episodes c using (subject_id, episode)
    left join memo_inflows m on m.tx_id = i.tx_id and m.subject_id = i.subject_id
    union all
    select
        o.subject_id, o.episode, o.tx_id, o.timestamp, o.amount, o.currency, o.amount_rep,
        'out', o.payee, o.channel, null
    from episode_outflows o
    semi join (
        select subject_id, episode, payee from payee_ranks where payee_rank <= $max_payees
    ) p using (subject_id, episode, payee)
    semi join collector_episodes c using (subject_id, episode)
),

evidence_rows as (
    select
        *,
        case direction
            when 'in' then 'collected ' || format('{:,.2f}', amount::double) || ' '
                           || currency || ' from ' || counterparty
                           || coalesce(' (memo: ' || labels || ')', '')
            else 'passed on ' || format('{:,.2f}', amount::double) || ' '
                 || currency || ' to ' || counterparty
        end || ' by ' || replace(channel, '_', ' ') as why
    from episode_rows
),

-- amounts are quoted in their own currency when the episode has only one
episode_facts as (
    select
        subject_id,
        episode,
        count(distinct counterparty) filter (where direction = 'in') as senders,
        count(*) filter (where direction = 'in') as in_count,
        count(*) filter (where direction = 'in' and labels is not null) as memo_count,
        sum(amount) filter (where direction = 'in') as in_amount,
        sum(amount) filter (where direction = 'out') as out_amount,
        date_diff('day', min(timestamp) filter (where direction = 'in'),
                  max(timestamp) filter (where direction = 'in')) + 1 as days
    from evidence_rows
    group by subject_id, episode
),

episode_totals as (
    select h.*, f.* exclude (subject_id, episode)
    from episode_hits(evidence_rows) h
    join episode_facts f using (subject_id, episode)
),

final as (
    select
        t.subject_id,
        t.window_start,
        t.window_end,
        t.tx_count,
        t.amount_total,
        t.evidence,
        t.senders || ' senders paid '
            || case
                when t.one_currency then format('{:,.2f}', t.in_amount::double) || ' ' || t.currency
                else format('{:,.2f}', c.in_rep::double) || ' (reporting currency)' end
            || ' in ' || t.in_count || ' transfers within ' || t.days || ' day'
            || case when t.days = 1 then '' else 's' end
            || '; ' || case
                when t.one_currency then format('{:,.2f}', t.out_amount::double) || ' ' || t.currency
                else format('{:,.2f}', c.out_rep::double) || ' (reporting currency)' end
            || ' (' || format('{:.0f}', floor(100 * c.out_rep / c.in_rep)::double)
            || '%) passed on to ' || c.payees || ' payee'
            || case when c.payees = 1 then '' else 's' end
            || ' within ' || $forward_hours || ' hours of the last inflow'
            || case when t.memo_count > 0
                    then '; ' || t.memo_count || ' memo' || case when t.memo_count = 1 then '' else 's' end
                         || ' name an escort agency or an alias'
                    else '' end as reason,
        'collector' as likely_role
    from episode_totals t
    join collector_episodes c using (subject_id, episode)
)

select * from final
