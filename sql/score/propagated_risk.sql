-- Risk carried along money flows from the accounts whose own evidence opens an alert
-- (the sources) to their counterparties, at most $hops hops (0: none, 1 or 2), each hop times
-- $decay and the share of the receiving account's money that flowed with the sender
-- (counterparty_flows):
--   one hop   decay * own(s) * share(a, s)
--   two hops  decay^2 * own(s) * share(b, a) * share(a, s)     (b is not s)
-- An account keeps its strongest path (a max, not a sum, so a crowd of weak links adds
-- nothing and no path can pass its source's own score) and that path's source score.
with sources as (
    select account_id as source, own_score
    from account_signals
    where opening_score >= $threshold and opening_score > 0 and $hops >= 1
),

one_hop as (
    select f.account_id, s.source, s.own_score, 1 as hops,
           $decay * s.own_score * f.share as propagated
    from sources s
    join counterparty_flows f on f.counterparty = s.source
),

strongest_one_hop as (
    -- the second hop only extends each account's two strongest one-hop paths: the best
    -- path to b through a starts from a's strongest source, or from its second when b
    -- is that source itself, so nothing else can win and the join stays small
    select * from one_hop
    qualify row_number() over (partition by account_id
                               order by propagated desc, source) <= 2
),

two_hops as (
    select f.account_id, h.source, h.own_score, 2 as hops,
           $decay * h.propagated * f.share as propagated
    from strongest_one_hop h
    join counterparty_flows f on f.counterparty = h.account_id
    where $hops >= 2 and f.account_id <> h.source
),

paths as (
    select * from one_hop
    union all
    select * from two_hops
),

final as (
    select account_id,
           max(propagated) as propagated_score,
           arg_max(own_score, (propagated, -hops, source)) as source_score,
           arg_max(source, (propagated, -hops, source)) as source,
           arg_max(hops, (propagated, -hops, source)) as hops
    from paths
    where propagated > 0
    group by account_id
)

select * from final
