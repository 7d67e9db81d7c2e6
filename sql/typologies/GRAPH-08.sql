-- GRAPH-08: stack (stacked bipartite, layered fan-in/fan-out). Money flows through at
-- least three layers of accounts within window_days: a layer of at least two payers pays
-- a middle layer of at least two accounts, which pays on to a third layer of at least two
-- payees, each hop a dense bipartite block (at least min_density of the possible links),
-- and no middle account sends money on before it has received it. The subject is each
-- middle-layer account (the layer that receives and passes on: mules).
--
-- The search runs on one row per (payer, payee, day) with standing relationships
-- (recurring, two-way and payroll pairs), merchants and hubs removed, as in GRAPH-07.
-- Accounts that cannot be a middle (two payers and two payees within window_days) are
-- pruned exactly before anything is paired; only links into or out of a possible middle
-- are copied onto the windows opening on their days. Middles of one layer are paired
-- through the payers and payees they share (equi-joins on window and counterparty,
-- bounded by the hub cap), and the time order is checked on the transactions of the
-- qualifying blocks only.

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

-- an account needs two payees within window_days to pay a block, two payers to be paid
-- by one, and both to be a middle (an exact test on neighbouring links)
paired_accounts as materialized (
    select * from two_counterparty_accounts(links, $window_days)
),

senders_ok as (
    select account from paired_accounts where side = 'payer'
),

receivers_ok as (
    select account from paired_accounts where side = 'payee'
),

possible_middles as (
    select account from senders_ok
    intersect
    select account from receivers_ok
),

-- links into a possible middle from an account that pays two, and links out of a
-- possible middle to an account paid by two
candidate_links as materialized (
    select l.*
    from links l
    where (l.dst in (select account from possible_middles)
           and l.src in (select account from senders_ok))
       or (l.src in (select account from possible_middles)
           and l.dst in (select account from receivers_ok))
),

-- candidate links copied onto the windows of window_days that open on each day with
-- one (see windowed_links in sql/macros), each pair with at least min_link_amount in
-- the window: a token payment does not make a link
window_links as materialized (
    select * from windowed_links(candidate_links, $window_days, $min_link_amount)
),

-- middles of a window: two payers and two payees in it
middles as (
    select window_day, account
    from (
        select window_day, dst as account, count(*) as n from window_links group by all
    ) i
    join (
        select window_day, src as account, count(*) as n from window_links group by all
    ) o using (window_day, account)
    where i.n >= 2 and o.n >= 2
),

in_links as materialized (
    select l.*
    from window_links l
    semi join middles m on m.window_day = l.window_day and m.account = l.dst
),

out_links as materialized (
    select l.*
    from window_links l
    semi join middles m on m.window_day = l.window_day and m.account = l.src
),

-- two middles of one layer share at least two payers and at least two payees
shared_payers as (
    select a.window_day, a.dst as subject_id, b.dst as member
    from in_links a
    join in_links b on b.window_day = a.window_day and b.src = a.src and b.dst <> a.dst
    group by a.window_day, a.dst, b.dst
    having count(*) >= 2
),

shared_payees as (
    select a.window_day, a.src as subject_id, b.src as member
    from out_links a
    join out_links b on b.window_day = a.window_day and b.dst = a.dst and b.src <> a.src
    group by a.window_day, a.src, b.src
    having count(*) >= 2
),

co_middles as (
    select * from shared_payers
    intersect
    select * from shared_payees
),

-- the stack of a middle in a window: its layer (itself and every co-middle), the payers
-- of it that pay a co-middle too, and the payees of it that a co-middle pays too
layer as (
    select window_day, subject_id, member from co_middles
    union all
    select distinct window_day, subject_id, subject_id from co_middles
),

upper_layer as (
    select distinct c.window_day, c.subject_id, own.src as account
    from co_middles c
    join in_links own on own.window_day = c.window_day and own.dst = c.subject_id
    join in_links other
        on other.window_day = c.window_day and other.dst = c.member and other.src = own.src
),

lower_layer as (
    select distinct c.window_day, c.subject_id, own.dst as account
    from co_middles c
    join out_links own on own.window_day = c.window_day and own.src = c.subject_id
    join out_links other
        on other.window_day = c.window_day and other.src = c.member and other.dst = own.dst
),

stack_links as materialized (
    select y.window_day, y.subject_id, 'in' as direction, y.member, l.src, l.dst,
           l.first_day, l.last_day, l.amount_rep
    from layer y
    join in_links l on l.window_day = y.window_day and l.dst = y.member
    semi join upper_layer u
        on u.window_day = y.window_day and u.subject_id = y.subject_id and u.account = l.src
    union all
    select y.window_day, y.subject_id, 'out', y.member, l.src, l.dst,
           l.first_day, l.last_day, l.amount_rep
    from layer y
    join out_links l on l.window_day = y.window_day and l.src = y.member
    semi join lower_layer d
        on d.window_day = y.window_day and d.subject_id = y.subject_id and d.account = l.dst
),

stacks as (
    select
        window_day,
        subject_id,
        count(distinct member) as middles,
        count(distinct src) filter (where direction = 'in') as payers,
        count(distinct dst) filter (where direction = 'out') as payees,
        count(*) filter (where direction = 'in') as in_links,
        count(*) filter (where direction = 'out') as out_links,
        sum(amount_rep) filter (where direction = 'in') as in_rep,
        sum(amount_rep) filter (where direction = 'out') as out_rep,
        min(first_day) as first_day,
        max(last_day) as last_day
    from stack_links
    group by window_day, subject_id
),

dense_stacks as (
    select *
    from stacks
    where payers >= $min_layer_size
      and middles >= $min_layer_size
      and payees >= $min_layer_size
      and in_links >= $min_density * payers * middles
      and out_links >= $min_density * middles * payees
      -- small sums among friends are not a laundering stack
      and in_rep >= $min_total
      -- the middle layer passes the money on instead of keeping it
      and out_rep >= $min_pass_share * in_rep
),

-- the transactions of each dense stack, with running totals per middle account: at
-- equal timestamps an inflow counts first
stack_transfers as materialized (
    select
        s.window_day,
        s.subject_id,
        l.direction,
        l.member,
        t.tx_id, t.timestamp, t.day, t.src, t.dst, t.amount, t.currency, t.amount_rep, t.channel,
        sum(case when l.direction = 'in' then t.amount_rep else 0 end) over member_order as cum_in,
        sum(case when l.direction = 'out' then t.amount_rep else 0 end) over member_order as cum_out
    from dense_stacks s
    join stack_links l on l.window_day = s.window_day and l.subject_id = s.subject_id
    join pair_transfers t
        on t.src = l.src
        and t.dst = l.dst
        and t.day >= l.first_day
        and t.day <= l.last_day
    window member_order as (
        partition by s.window_day, s.subject_id, l.member
        order by t.timestamp, l.direction, t.tx_id
        rows between unbounded preceding and current row
    )
),

-- layer k+1 sends only after receiving: no middle ever has sent on more than it has
-- received from the layer above
ordered_stacks as (
    select window_day, subject_id
    from stack_transfers
    group by window_day, subject_id
    having count(*) filter (where direction = 'out' and cum_out > cum_in) = 0
),

qualifying_stacks as (
    select s.*
    from dense_stacks s
    semi join ordered_stacks o on o.window_day = s.window_day and o.subject_id = s.subject_id
),

qualifying as (
    select subject_id, first_day as window_start, last_day as window_limit
    from qualifying_stacks
),

episode_bounds as (
    select * from merged_windows(qualifying)
),

-- each transfer once per episode, with what it says (materialized: the episode's
-- totals and its layers are read from the same rows)
evidence_rows as materialized (
    select distinct on (e.subject_id, e.episode, t.tx_id)
        e.subject_id,
        e.episode,
        t.* exclude (window_day, subject_id, cum_in, cum_out),
        case when t.direction = 'in' then 'layer 1 -> 2: ' else 'layer 2 -> 3: ' end
            || format('{:,.2f}', t.amount::double) || ' ' || t.currency
            || ' from ' || t.src || ' to ' || t.dst || ' by ' || replace(t.channel, '_', ' ') as why
    from episode_bounds e
    join qualifying_stacks q
        on q.subject_id = e.subject_id
        and q.first_day >= e.episode_start
        and q.last_day <= e.episode_limit
    join stack_transfers t on t.window_day = q.window_day and t.subject_id = q.subject_id
),

episode_facts as (
    select
        subject_id,
        episode,
        string_agg(distinct src, ', ' order by src) filter (where direction = 'in') as payer_list,
        string_agg(distinct member, ', ' order by member) as middle_list,
        string_agg(distinct dst, ', ' order by dst) filter (where direction = 'out') as payee_list,
        count(distinct src) filter (where direction = 'in') as payers,
        count(distinct member) as middles,
        count(distinct dst) filter (where direction = 'out') as payees,
        sum(amount_rep) filter (where direction = 'in') as in_rep,
        sum(amount_rep) filter (where direction = 'out') as out_rep,
        sum(amount) filter (where direction = 'in') as in_sum,
        sum(amount) filter (where direction = 'out') as out_sum,
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
        'stack of 3 layers: ' || payers || ' payers (' || payer_list || ') -> '
            || middles || ' middle accounts (' || middle_list || ') -> '
            || payees || ' payees (' || payee_list || '); '
            || case
                when one_currency
                    then format('{:,.2f}', in_sum::double) || ' ' || currency || ' in, '
                         || format('{:,.2f}', out_sum::double) || ' ' || currency || ' on'
                else format('{:,.2f}', in_rep::double) || ' in, '
                     || format('{:,.2f}', out_rep::double) || ' on (reporting currency)' end
            || ', each middle sending only after receiving, in ' || tx_count
            || ' transfers within ' || days || ' day'
            || case when days = 1 then '' else 's' end as reason,
        'mule' as likely_role
    -- amounts are quoted in their own currency when the episode has only one
    from episode_hits(evidence_rows) h
    join episode_facts f using (subject_id, episode)
)

select * from final
