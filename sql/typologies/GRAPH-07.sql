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
with payroll_texts as (
    select distinct description as text
    from transactions
    where description is not null and list_contains($channels::varchar[], channel)
),

payroll_descriptions as (
    select text from pattern_matches(payroll_texts, ['payroll_credit'])
),

-- one row per payer and payee over the whole scan. Calendar months are counted as the
-- bits of a 64-bit mask (one bit per month number modulo 64), which is cheaper than a
-- distinct count and exact for scans spanning fewer than 64 calendar months
pair_history as materialized (
    select
        src_account as src,
        dst_account as dst,
        bit_count(bit_or(1::ubigint << ((year(day) * 12 + month(day)) % 64)::ubigint)) as months,
        sum(amount_rep) as amount_rep,
        coalesce(bool_or(description in (select text from payroll_descriptions)), false)
            as payroll
    from transactions
    -- card payments go to merchants; cash has no identifiable counterparty
    where list_contains($channels::varchar[], channel)
      and src_account <> 'CASH'
      and dst_account <> 'CASH'
    group by src_account, dst_account
),

-- accounts paid by card are merchants and billers: a shared shop or utility is no block
merchants as (
    select distinct dst_account as account
    from transactions
    where channel = 'card'
),

-- pairs that can carry a link: one-off (not paid in recurring_months calendar months:
-- rent, bills, allowances), one-way (not paid both ways: family, flatmates, friends
-- settling up), without payroll wording (an employer's wages), not to a merchant, and
-- with at least min_link_amount over the whole scan
possible_pairs as materialized (
    select p.src, p.dst
    from pair_history p
    anti join pair_history r on r.src = p.dst and r.dst = p.src
    anti join merchants m on m.account = p.dst
    where p.months < $recurring_months
      and not p.payroll
      and p.amount_rep >= $min_link_amount
),

-- hubs: more than max_degree distinct payees (employer, payroll bureau) or payers
-- (landlord, utility, charity) within one window_days bucket of the calendar, counted
-- over every transfer (recurring ones too). Only accounts of a possible pair with more
-- than max_degree counterparties over the whole scan can be hubs, so only their
-- transfers are bucketed
payer_hub_candidates as (
    select src as account
    from pair_history
    semi join possible_pairs c using (src)
    group by src
    having count(*) > $max_degree
),

payee_hub_candidates as (
    select dst as account
    from pair_history
    semi join possible_pairs c using (dst)
    group by dst
    having count(*) > $max_degree
),

payer_hubs as (
    select distinct src_account as account
    from (
        select src_account, date_diff('day', date '1970-01-01', day) // $window_days as bucket
        from transactions
        semi join payer_hub_candidates c on c.account = src_account
        where list_contains($channels::varchar[], channel) and dst_account <> 'CASH'
        group by src_account, bucket
        having count(distinct dst_account) > $max_degree
    )
),

payee_hubs as (
    select distinct dst_account as account
    from (
        select dst_account, date_diff('day', date '1970-01-01', day) // $window_days as bucket
        from transactions
        semi join payee_hub_candidates c on c.account = dst_account
        where list_contains($channels::varchar[], channel) and src_account <> 'CASH'
        group by dst_account, bucket
        having count(distinct src_account) > $max_degree
    )
),

-- the transfers of the pairs left, and one row per payer, payee and day of them
pair_transfers as materialized (
    select
        t.tx_id, t.timestamp, t.day, t.src_account as src, t.dst_account as dst,
        t.amount, t.currency, t.amount_rep, t.channel
    from transactions t
    semi join possible_pairs p on p.src = t.src_account and p.dst = t.dst_account
    anti join payer_hubs h on h.account = t.src_account
    anti join payee_hubs g on g.account = t.dst_account
    where list_contains($channels::varchar[], t.channel)
),

links as materialized (
    select src, dst, day, sum(amount_rep) as amount_rep
    from pair_transfers
    group by src, dst, day
),

-- a payer needs two payees within window_days: if it has two, two of its links that
-- are neighbours in day order already show it (the first change of payee between
-- them), so comparing each link with the previous one is exact; likewise for payees
payers_ok as (
    select distinct src as account
    from (
        select src, dst, day,
               lag(dst) over (partition by src order by day, dst) as prev_dst,
               lag(day) over (partition by src order by day, dst) as prev_day
        from links
    )
    where prev_dst <> dst and day - prev_day <= $window_days - 1
),

payees_ok as (
    select distinct dst as account
    from (
        select src, dst, day,
               lag(src) over (partition by dst order by day, src) as prev_src,
               lag(day) over (partition by dst order by day, src) as prev_day
        from links
    )
    where prev_src <> src and day - prev_day <= $window_days - 1
),

candidate_links as materialized (
    select l.*
    from links l
    semi join payers_ok p on p.account = l.src
    semi join payees_ok q on q.account = l.dst
),

-- every window opens on a day with a candidate link, so a block whose links span at most
-- window_days is seen whole in the window opening on its first day
window_starts as (
    select distinct day as window_day from candidate_links
),

window_links as materialized (
    select
        w.window_day,
        c.src,
        c.dst,
        min(c.day) as first_day,
        max(c.day) as last_day,
        sum(c.amount_rep) as amount_rep
    from candidate_links c
    cross join generate_series(0, $window_days - 1) as k(day_offset)
    join window_starts w on w.window_day = c.day - k.day_offset::integer
    group by w.window_day, c.src, c.dst
    -- a token payment does not make a link
    having sum(c.amount_rep) >= $min_link_amount
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

episode_transfers as (
    select e.subject_id, e.episode, t.*
    from episode_links e
    join pair_transfers t
        on t.src = e.src
        and t.dst = e.dst
        and t.day >= e.episode_start
        and t.day <= e.episode_limit
),

episode_totals as (
    select
        subject_id,
        episode,
        min(timestamp) as window_start,
        max(timestamp) as window_end,
        count(*) as tx_count,
        sum(amount_rep) as amount_total,
        list({'tx_id': tx_id,
              'why': 'transfer of ' || format('{:,.2f}', amount::double) || ' ' || currency
                     || ' from ' || src || ' to ' || dst || ' by ' || replace(channel, '_', ' ')}
             order by timestamp, tx_id) as evidence,
        count(distinct src) as sources,
        count(distinct dst) as sinks,
        count(distinct (src, dst)) as links,
        string_agg(distinct src, ', ' order by src) as source_list,
        string_agg(distinct dst, ', ' order by dst) as sink_list,
        count(distinct currency) = 1 as one_currency,
        min(currency) as currency,
        sum(amount) as amount_sum,
        date_diff('day', min(day), max(day)) + 1 as days
    from episode_transfers
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
            || case
                when one_currency then format('{:,.2f}', amount_sum::double) || ' ' || currency
                else format('{:,.2f}', amount_total::double) || ' (reporting currency)' end
            || ' in ' || tx_count || ' transfers within ' || days || ' day'
            || case when days = 1 then '' else 's' end as reason,
        'controller' as likely_role
    from episode_totals
)

select * from final
