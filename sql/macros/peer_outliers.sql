-- Accounts out of line with their peers: select * from peer_outliers(shares,
-- $peer_quantile, $min_share, $min_peers) -> every column of `shares` (account_id,
-- customer_type, segment, share: one row per account of the peer population, with the
-- measure the rule compares) plus peer_level (the quantile of share in the account's peer
-- group, customer type and segment) and peers (accounts in the group), for the accounts
-- whose share reaches the floor and exceeds the peer level; with fewer than min_peers
-- accounts in the group the quantile is meaningless and the floor alone decides. Used
-- where the measure depends on the rule's own parameters (its MCC groups); measures that
-- do not are in the peer_levels feature table.
create or replace macro peer_outliers(shares, quantile, floor, min_peers) as table
with levels as (
    select
        customer_type,
        segment,
        quantile_cont(share, quantile) as peer_level,
        count(*) as peers
    from query_table(shares)
    group by customer_type, segment
)
select s.*, l.peer_level, l.peers
from query_table(shares) s
join levels l using (customer_type, segment)
where s.share >= floor
  and (l.peers < min_peers or s.share > l.peer_level);
