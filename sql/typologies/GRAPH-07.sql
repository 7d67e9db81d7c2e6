-- GRAPH-07: bipartite. At least min_sources accounts each pay at least two of the same
-- min_sinks accounts within window_days, with at least min_density of the possible
-- payer-payee links present. The subject is each payer of such a block.
--
-- Work happens on one row per (payer, payee, day). Standing relationships (a pair paid in
-- recurring_months calendar months, or paid both ways: flatmates and their landlord,
-- employers and staff, families), merchants (accounts paid by card), payroll credits
-- and hubs (more than max_degree counterparties on one side in a window_days bucket) are
-- removed first; then every payer and payee that cannot have two counterparties within
-- window_days is pruned (exact). Only the survivors are copied onto the windows opening
-- on their days, and pairs of payers are found through the payees they share in a
-- window (an equi-join on window and payee; the hub cap bounds its size).

-- the transfers of the payer-payee pairs that can carry a link: standing relationships
-- (recurring, two-way, payroll), payees paid by card (merchants) and hubs removed (see
-- pruned_pair_transfers in sql/macros); and one row per payer, payee and day of them
with pair_transfers as materialized (
    select *
    from pruned_pair_transfers(
        transactions, $channels, $recurring_months, $min_link_amount, $max_degree,
        $window_days)
),

links as materialized (
    select src, dst, day, sum(amount_rep) as amount_rep
    from pair_transfers
    group by src, dst, day
),

-- a payer needs two payees within window_days, a payee two payers (an exact test on
-- neighbouring links)
paired_accounts as materialized (
    select * from two_counterparty_accounts(links, $window_days)
),

candidate_links as materialized (
    select l.*
    from links l
    semi join paired_accounts p on p.account = l.src and p.side = 'payer'
    semi join paired_accounts q on q.account = l.dst and q.side = 'payee'
),

-- candidate links copied onto the windows of window_days that open on each day with
-- one (see windowed_links in sql/macros), each pair with at least min_link_amount in
-- the window: a token payment does not make a link
window_links as materialized (
    select * from windowed_links(candidate_links, $window_days, $min_link_amount)
),

-- pairs of payers and how many payees they share in a window
shared as (
    select a.window_day, a.src as subject_id, b.src as member, count(*) as shared_payees
    from window_links a
    join window_links b
        on b.window_day = a.window_day
        and b.dst = a.dst
        and b.src <> a.src
    group by a.window_day, a.src, b.src
    having count(*) >= 2
),

-- the block of a payer in a window: the payer, every payer sharing at least two of its
-- payees, and those of its payees that at least one of them pays as well
block_sources as (
    select window_day, subject_id, member from shared
    union all
    select distinct window_day, subject_id, subject_id from shared
),

block_sinks as (
    select distinct s.window_day, s.subject_id, own.dst
    from shared s
    join window_links own
        on own.window_day = s.window_day and own.src = s.subject_id
    join window_links other
        on other.window_day = s.window_day and other.src = s.member and other.dst = own.dst
),

block_links as materialized (
    select b.window_day, b.subject_id, l.src, l.dst, l.first_day, l.last_day, l.amount_rep
    from block_sources b
    join window_links l on l.window_day = b.window_day and l.src = b.member
    semi join block_sinks k
        on k.window_day = b.window_day and k.subject_id = b.subject_id and k.dst = l.dst
),

blocks as (
    select
        window_day,
        subject_id,
        count(distinct src) as sources,
        count(distinct dst) as sinks,
        count(*) as links,
        sum(amount_rep) as amount_rep,
        min(first_day) as first_day,
        max(last_day) as last_day
    from block_links
    group by window_day, subject_id
),

qualifying_blocks as (
    select *
    from blocks
    where sources >= $min_sources
      and sinks >= $min_sinks
      and links >= $min_density * sources * sinks
      -- small sums shared among friends are not a laundering block
      and amount_rep >= $min_total
),

qualifying as (
    select subject_id, first_day as window_start, last_day as window_limit
    from qualifying_blocks
),

episode_bounds as (
    select * from merged_windows(qualifying)
),

-- the links of every qualifying block of an episode: its payers and payees
episode_links as (
    select distinct e.subject_id, e.episode, e.episode_start, e.episode_limit, l.src, l.dst
    from episode_bounds e
    join qualifying_blocks q
        on q.subject_id = e.subject_id
        and q.first_day >= e.episode_start
        and q.last_day <= e.episode_limit
    join block_links l on l.subject_id = q.subject_id and l.window_day = q.window_day
),

evidence_rows as (
    select
        e.subject_id,
        e.episode,
        t.*,
        'transfer of ' || format('{:,.2f}', t.amount::double) || ' ' || t.currency
            || ' from ' || t.src || ' to ' || t.dst || ' by ' || replace(t.channel, '_', ' ') as why
    from episode_links e
    join pair_transfers t
        on t.src = e.src
        and t.dst = e.dst
        and t.day >= e.episode_start
        and t.day <= e.episode_limit
),

episode_facts as (
    select
        subject_id,
        episode,
        count(distinct src) as sources,
        count(distinct dst) as sinks,
        count(distinct (src, dst)) as links,
        string_agg(distinct src, ', ' order by src) as source_list,
        string_agg(distinct dst, ', ' order by dst) as sink_list,
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
        sources || ' payers (' || source_list || ') paid the same ' || sinks || ' payees ('
            || sink_list || '): ' || links || ' of ' || (sources * sinks)
            || ' possible payer-payee links, '
            || money_text(amount_own, amount_total, one_currency, currency)
            || ' in ' || tx_count || ' transfers within ' || days || ' day'
            || case when days = 1 then '' else 's' end as reason,
        'controller' as likely_role
    -- amounts are quoted in their own currency when the episode has only one
    from episode_hits(evidence_rows) h
    join episode_facts f using (subject_id, episode)
)

select * from final
