-- LAB-04: a business with revenue and spending but no normal payroll: no wages, no
-- payments to a payroll processor and no payroll taxes for window_days or more.
--
-- Only accounts the accounts file marks business are read; without an accounts file the
-- typology returns nothing. The business must earn more than its peers: revenue (all
-- credits over the export, from account_features) at least min_revenue and above the
-- peer_quantile (the median) of the businesses of its customer type and segment (with
-- fewer than min_peers businesses only the floor applies). Its days are then cut into
-- payroll-free stretches at every payroll or payroll-tax payment, or payment to the
-- owner of an owner-run business (an individual paid under owner_draw_wording, when
-- the business takes out less cash than it pays the owner); a stretch of at least
-- window_days calendar days within the account's own activity qualifies when the
-- business also spent from the account in it (min_outflows payments adding up to
-- min_spend_share of the stretch's revenue), so that a collection account whose costs are
-- paid elsewhere is not mistaken for a business without payroll.
with business_accounts as (
    select account_id, coalesce(customer_type, '') as customer_type, coalesce(segment, '') as segment
    from accounts
    where customer_type = 'business'
),

business_revenue as (
    select
        f.account_id,
        b.customer_type,
        b.segment,
        coalesce(f.in_amount, 0) as revenue,
        coalesce(f.out_amount, 0) as spent
    from business_accounts b
    join account_features f using (account_id)
),

-- the revenue of the businesses of each customer type and segment (the shared
-- peer_levels table), at this rule's peer_quantile
revenue_levels as (
    select
        customer_type,
        segment,
        list_aggregate(peer_values, 'quantile_cont', $peer_quantile) as peer_level,
        peers
    from peer_levels
    where measure = 'business_revenue'
),

-- FC14: revenue, yet no payroll; the revenue must be more than a typical peer's
above_peers as (
    select r.account_id as subject_id, r.segment, r.revenue, p.peer_level, p.peers
    from business_revenue r
    join revenue_levels p using (customer_type, segment)
    where r.revenue >= $min_revenue
      and r.spent > 0
      and (p.peers < $min_peers or r.revenue > p.peer_level)
),

-- the businesses' credits count only as revenue per day, with the day's first and last
-- credit time (a stretch's window spans its credits): one row per business and day
-- instead of every credit of a business taking card payments
revenue_days as (
    select
        t.dst_account as subject_id,
        t.day,
        sum(t.amount_rep) as revenue,
        min(t.timestamp) as first_at,
        max(t.timestamp) as last_at
    from transactions t
    semi join above_peers a on a.subject_id = t.dst_account
    group by all
),

-- the businesses' payments with the texts payroll is recognised by
payments as materialized (
    select
        t.src_account as subject_id, t.dst_account as counterparty,
        t.tx_id, t.timestamp, t.day, t.amount, t.currency, t.amount_rep, t.channel,
        t.description, t.merchant_name
    from transactions t
    semi join above_peers a on a.subject_id = t.src_account
),

outflow_texts as (
    select description as text from payments
    union
    select merchant_name from payments
),

-- wages, payroll processors and payroll taxes, matched once per distinct text
payroll_texts as (
    select distinct text
    from pattern_matches(outflow_texts, ['payroll_credit', 'payroll_processor', 'payroll_tax'])
),

-- the owner's pay in an owner-run business: an individual the business pays under
-- owner-draw wording is its owner, and every payment to that person (labelled or not) is
-- the owner's pay, the payroll of a business whose only worker is its owner
owners as (
    select distinct subject_id, counterparty
    from payments
    where regexp_matches(lower(coalesce(description, '')), $owner_draw_wording)
      and counterparty not in (select account_id from business_accounts)
),

-- ... unless the business takes out more cash than it pays its owner: cash in that
-- measure is labour paid in cash (FIN-2014-A008), and the draw does not explain who does
-- the rest of the work
owner_payees as (
    select o.subject_id, o.counterparty
    from owners o
    join (
        select
            l.subject_id,
            coalesce(sum(l.amount_rep) filter (where o2.counterparty is not null), 0) as owner_pay,
            coalesce(sum(l.amount_rep) filter (where l.channel = 'cash_withdrawal'), 0) as cash_out
        from payments l
        left join owners o2 on o2.subject_id = l.subject_id and o2.counterparty = l.counterparty
        where l.subject_id in (select subject_id from owners)
        group by l.subject_id
    ) p on p.subject_id = o.subject_id
    where p.cash_out < p.owner_pay
),

flagged_payments as materialized (
    select
        l.*,
        l.description in (select text from payroll_texts)
            or l.merchant_name in (select text from payroll_texts)
            or o.counterparty is not null as is_payroll
    from payments l
    left join owner_payees o on o.subject_id = l.subject_id and o.counterparty = l.counterparty
),

payment_days as (
    select
        subject_id,
        day,
        sum(amount_rep) as spent,
        count(*) as n_out,
        count(*) filter (where is_payroll) as n_payroll
    from flagged_payments
    group by subject_id, day
),

day_totals as (
    select
        coalesce(r.subject_id, p.subject_id) as subject_id,
        coalesce(r.day, p.day) as day,
        coalesce(r.revenue, 0) as revenue,
        coalesce(p.spent, 0) as spent,
        coalesce(p.n_out, 0) as n_out,
        coalesce(p.n_payroll, 0) as n_payroll
    from revenue_days r
    full join payment_days p on p.subject_id = r.subject_id and p.day = r.day
),

-- stretch k runs from the day after the k-th payroll day (or the account's first day)
-- to the day before the next payroll day (or the account's last day)
numbered as (
    select
        *,
        count(*) filter (where n_payroll > 0) over (
            partition by subject_id order by day rows between unbounded preceding and current row
        ) as stretch_no,
        min(day) over (partition by subject_id) as first_day,
        max(day) over (partition by subject_id) as last_day
    from day_totals
),

stretches as (
    select
        subject_id,
        stretch_no,
        case when stretch_no = 0 then min(day) else min(day) filter (where n_payroll > 0) + 1 end
            as stretch_start,
        any_value(last_day) as last_day,
        sum(revenue) filter (where n_payroll = 0) as revenue,
        sum(spent) filter (where n_payroll = 0) as spent,
        sum(n_out) filter (where n_payroll = 0) as n_out
    from numbered
    group by subject_id, stretch_no
),

bounded as (
    select
        *,
        coalesce(
            lead(stretch_start) over (partition by subject_id order by stretch_no) - 2,
            last_day
        ) as stretch_end
    from stretches
),

qualifying as (
    select *, date_diff('day', stretch_start, stretch_end) + 1 as stretch_days
    from bounded
    where date_diff('day', stretch_start, stretch_end) + 1 >= $window_days
      and revenue > 0
      -- the business pays its costs from this account, none of them payroll
      and n_out >= $min_outflows
      and spent >= $min_spend_share * revenue
),

stretch_payments as (
    select q.subject_id, q.stretch_no, l.* exclude (subject_id)
    from qualifying q
    join flagged_payments l
        on l.subject_id = q.subject_id
        and l.day >= q.stretch_start
        and l.day <= q.stretch_end
),

-- the evidence is the stretch's payments (the stretch is the episode)
evidence_rows as (
    select
        * exclude (stretch_no),
        stretch_no as episode,
        'outflow of ' || format('{:,.2f}', amount::double) || ' ' || currency
            || ' to ' || coalesce(merchant_name, counterparty) || ' by '
            || replace(channel, '_', ' ') || ', not payroll or payroll tax' as why
    from stretch_payments
),

-- the window spans the stretch's credits too
stretch_facts as (
    select
        subject_id,
        stretch_no as episode,
        min(first_at) as window_start,
        max(last_at) as window_end,
        string_agg(distinct replace(channel, '_', ' '), ', ' order by replace(channel, '_', ' '))
            as channels
    from (
        select subject_id, stretch_no, timestamp as first_at, timestamp as last_at, channel
        from stretch_payments
        union all
        select q.subject_id, q.stretch_no, r.first_at, r.last_at, null
        from qualifying q
        join revenue_days r
            on r.subject_id = q.subject_id
            and r.day >= q.stretch_start
            and r.day <= q.stretch_end
    )
    group by subject_id, stretch_no
),

episode_totals as (
    select h.* exclude (window_start, window_end, episode), h.episode as stretch_no,
           f.* exclude (subject_id, episode)
    from episode_hits(evidence_rows) h
    join stretch_facts f using (subject_id, episode)
),

final as (
    select
        t.subject_id,
        t.window_start,
        t.window_end,
        t.tx_count,
        t.amount_total,
        t.evidence,
        'no payroll, payroll-processor or payroll-tax payment in ' || q.stretch_days
            || ' days (' || strftime(q.stretch_start, '%Y-%m-%d') || ' to '
            || strftime(q.stretch_end, '%Y-%m-%d') || ') while '
            || format('{:,.2f}', q.revenue::double) || ' came in and '
            || t.tx_count || ' other payment' || case when t.tx_count = 1 then '' else 's' end
            || ' of ' || format('{:,.2f}', t.amount_total::double)
            || ' went out (' || t.channels || ') (reporting currency); revenue over the export '
            || format('{:,.2f}', a.revenue::double) || ', '
            || case
                when a.peers < $min_peers
                    then 'only ' || a.peers || case when a.peers = 1 then ' business' else ' businesses' end
                         || ' in segment ''' || a.segment || ''', no peer level'
                else 'above the p' || format('{:.0f}', 100 * $peer_quantile::double) || ' peer level '
                     || format('{:,.2f}', a.peer_level::double)
                     || ' of ' || a.peers || ' businesses in segment ''' || a.segment || ''''
                end as reason,
        'business' as likely_role
    from episode_totals t
    join qualifying q using (subject_id, stretch_no)
    join above_peers a using (subject_id)
)

select * from final
