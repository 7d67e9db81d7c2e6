-- XB-01: cash deposited into an account, then most of it sent abroad to a listed
-- jurisdiction (victim / smuggling source country, FATF list) within a few days.
--
-- A deposit d and a later listed outflow o of the same account form a pair when o falls
-- within the window of d. The pair qualifies when, counting everything between d and o,
-- the cash deposited reaches the minimum and cash and listed outflows match within the
-- minimum share both ways (most of the cash leaves, and cash funds most of what leaves).
-- Running totals give both sums without another join; overlapping qualifying pairs of
-- one account merge into one episode (one hit).
with listed_countries as (
    -- one row per country with the chosen lists that name it (for the evidence text)
    select country, string_agg(list_name, ', ' order by list_name) as lists
    from (
        select distinct upper(country) as country, list_name
        from ref_jurisdictions
        where list_contains($lists::varchar[], list_name)
    )
    group by country
),

-- one scan of the transactions: cash deposits and transfers abroad to a listed country
candidates as materialized (
    select
        case when t.channel = 'cash_deposit' then t.dst_account else t.src_account end as subject_id,
        t.tx_id,
        t.timestamp,
        t.day,
        t.amount,
        t.currency,
        t.amount_rep,
        t.channel,
        t.dst_country,
        c.lists,
        case when t.channel = 'cash_deposit' then 'cash' else 'out' end as kind
    from transactions t
    left join listed_countries c on c.country = t.dst_country
    where t.channel = 'cash_deposit'
       or (
            -- outflows that can carry money abroad; card spend and cash withdrawals cannot
            t.channel in ('wire', 'p2p', 'other', 'crypto')
            and c.country is not null
            -- abroad: a transfer inside the listed country itself is not cross-border
            and (t.src_country is null or t.dst_country <> t.src_country)
       )
),

-- only accounts that have both cash in and a listed outflow can match
subjects as (
    select subject_id
    from candidates
    group by subject_id
    having count(*) filter (where kind = 'cash') > 0 and count(*) filter (where kind = 'out') > 0
),

subject_candidates as (
    select c.*
    from candidates c
    semi join subjects s on s.subject_id = c.subject_id
),

-- running totals per account (cash_running_totals of sql/macros, shared with GRAPH-09)
running as materialized (
    select * from cash_running_totals(subject_candidates)
),

-- each deposit with each listed outflow at most window_days later, through an equi-join
-- on (account, day bucket): never an account's whole history
pairs as (
    select * from cash_out_pairs(running, to_days($window_days))
),

qualifying as (
    select subject_id, pair_start, pair_end
    from pairs
    where cash_in >= $min_cash
      -- most of the cash goes abroad ...
      and sent_out >= $min_share * cash_in
      -- ... and the cash is what funds it: a small cash deposit next to a large
      -- transfer paid from wages (ACH) is ordinary remittance, not cash placement
      and cash_in >= $min_share * sent_out
),

spans as (
    select subject_id, pair_start as window_start, pair_end as window_limit from qualifying
),

-- overlapping qualifying spans of one account form one episode
episode_bounds as (
    select * from merged_windows(spans)
),

evidence_rows as (
    select
        r.subject_id,
        r.episode,
        r.tx_id,
        r.timestamp,
        r.kind,
        r.amount,
        r.currency,
        r.amount_rep,
        r.dst_country,
        case
            when r.kind = 'cash'
                then 'cash deposit of ' || format('{:,.2f}', r.amount::double) || ' ' || r.currency
            else case r.channel
                    when 'wire' then 'wire'
                    when 'p2p' then 'P2P transfer'
                    when 'crypto' then 'crypto transfer'
                    else 'transfer' end
                 || ' of ' || format('{:,.2f}', r.amount::double)
                 || ' ' || r.currency || ' to ' || r.dst_country || ' (' || r.lists || ')'
        end as why
    from episode_rows(episode_bounds, running) r
),

episode_countries as (
    select subject_id, episode, string_agg(distinct dst_country, ', ' order by dst_country) as countries
    from evidence_rows
    group by subject_id, episode
),

-- cash in and out of the episode (cash_out_facts of sql/macros, shared with GRAPH-09)
episode_totals as (
    select h.*, c.* exclude (subject_id, episode), k.countries
    from episode_hits(evidence_rows) h
    join cash_out_facts(evidence_rows) c using (subject_id, episode)
    join episode_countries k using (subject_id, episode)
),

final as (
    select
        subject_id,
        window_start,
        window_end,
        tx_count,
        amount_total,
        evidence,
        cash_then_out
            || ' sent to ' || countries || ' in ' || n_out || ' transfer'
            || case when n_out = 1 then '' else 's' end || ' within '
            || span_text(window_start, window_end) as reason,
        'controller' as likely_role
    from episode_totals
)

select * from final
