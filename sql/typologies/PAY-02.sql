-- PAY-02: money sent to a crypto exchange (VASP) shortly after several incoming P2P
-- transfers (e-transfers) from different people.
--
-- A VASP outflow is a payment by the account in the crypto channel, or one whose
-- merchant descriptor, description or beneficiary id matches a vasp pattern. It
-- qualifies when in the hours_before hours up to it the account received P2P credits
-- from at least min_senders distinct senders that add up to at least min_funded_share of
-- the outflow (the credits fund it). Work is kept small by looking for VASP outflows only
-- on account-days that can have enough senders (day buckets), and by matching the
-- descriptors of those outflows only. Overlapping qualifying spans make one hit.
-- The screen reads two narrow columns of every credit: the account as the 64-bit hash of
-- its id, and the day. A day's credits bound its distinct senders from above, and
-- accounts sharing a hash add up their credits, which only raises the bound: no account
-- day that can qualify is dropped.
with credit_days as (
    select hash(dst_account) as subject_key, day, count(*) as credits
    from transactions
    where list_contains($credit_channels::varchar[], channel)
      and src_account <> cash_account()
      and dst_account <> cash_account()
    group by subject_key, day
),

-- a span of hours_before hours ending on day d touches at most the days
-- d - ceil(hours_before / 24) .. d; the sum of their daily credits bounds the distinct
-- senders of any such span from above
candidate_days as (
    select subject_key, day
    from (
        select
            subject_key,
            day,
            sum(credits) over (
                partition by subject_key order by day
                range between (ceil($hours_before / 24))::integer preceding and current row
            ) as sender_bound
        from credit_days
    )
    where sender_bound >= $min_senders
),

-- outflows of those accounts on days that can follow enough credits (the day itself or
-- up to ceil(hours_before / 24) days after a day with credits)
candidate_outflow_days as (
    select distinct subject_key, day + k.day_offset::integer as day
    from candidate_days
    cross join generate_series(0, (ceil($hours_before / 24))::integer) as k(day_offset)
),

-- the ids of those accounts (account_keys holds every account once), so that the
-- outflows are picked by the payer's id before any other column is read
candidate_payers as (
    select account_id
    from account_keys
    where hash(account_id) in (select subject_key from candidate_days)
),

candidate_outflows as materialized (
    select
        t.src_account as subject_id,
        t.tx_id,
        t.timestamp,
        t.day,
        t.amount,
        t.currency,
        t.amount_rep,
        t.channel,
        t.dst_account,
        t.merchant_name,
        t.description
    from transactions t
    semi join candidate_payers p on p.account_id = t.src_account
    semi join candidate_outflow_days c on c.subject_key = hash(t.src_account) and c.day = t.day
    where t.dst_account <> cash_account()
      and t.src_account <> cash_account()
      and t.channel <> 'cash_withdrawal'
),

outflow_texts as (
    select merchant_name as text from candidate_outflows where merchant_name is not null
    union
    select description from candidate_outflows where description is not null
    union
    select dst_account from candidate_outflows
),

-- texts naming an exchange, matched once per distinct text by the pattern_matches macro;
-- label: the exchange's name from the pattern's note ("Coinbase: crypto exchange ...")
vasp_texts as (
    select text, label
    from pattern_matches(outflow_texts, ['vasp'])
),

vasp_outflows as materialized (
    select
        o.*,
        coalesce(m.label, d.label, b.label,
                 case when o.channel = 'crypto' then 'crypto wallets' end) as vasp,
        coalesce(m.text, d.text, b.text, o.dst_account) as named_by
    from candidate_outflows o
    left join vasp_texts m on m.text = o.merchant_name
    left join vasp_texts d on d.text = o.description
    left join vasp_texts b on b.text = o.dst_account
    where o.channel = 'crypto'
       or m.text is not null or d.text is not null or b.text is not null
),

-- the P2P credits of accounts with a VASP outflow only
vasp_account_credits as materialized (
    select
        dst_account as subject_id,
        src_account as sender,
        tx_id,
        timestamp,
        day,
        amount,
        currency,
        amount_rep,
        channel
    from transactions
    semi join (select distinct subject_id from vasp_outflows) v on v.subject_id = dst_account
    where list_contains($credit_channels::varchar[], channel)
      and src_account <> cash_account()
      and dst_account <> cash_account()
),

-- each VASP outflow against the P2P credits of the hours before it: an equi-join on
-- (account, day) over the few days the span touches
outflow_days as (
    select o.*, o.day - k.day_offset::integer as credit_day
    from vasp_outflows o
    cross join generate_series(0, (ceil($hours_before / 24))::integer) as k(day_offset)
),

funding_pairs as materialized (
    select
        o.subject_id,
        o.tx_id as outflow_id,
        o.timestamp as outflow_time,
        o.amount_rep as outflow_rep,
        c.tx_id as credit_id,
        c.sender,
        c.timestamp as credit_time,
        c.amount_rep as credit_rep
    from outflow_days o
    join vasp_account_credits c
        on c.subject_id = o.subject_id
        and c.day = o.credit_day
    where c.timestamp <= o.timestamp
      and c.timestamp >= o.timestamp - to_hours($hours_before)
),

qualifying_outflows as (
    select subject_id, outflow_id, min(credit_time) as window_start, any_value(outflow_time) as window_limit
    from funding_pairs
    group by subject_id, outflow_id
    having count(distinct sender) >= $min_senders
       and sum(credit_rep) >= $min_funded_share * any_value(outflow_rep)
),

-- overlapping qualifying spans of one account form one episode
episode_bounds as (
    select * from merged_windows(qualifying_outflows)
),

-- evidence: the qualifying outflows and the credits that funded them
evidence_ids as (
    select q.subject_id, q.outflow_id as tx_id, 'out' as kind
    from qualifying_outflows q
    union
    select q.subject_id, f.credit_id, 'in'
    from qualifying_outflows q
    join funding_pairs f on f.subject_id = q.subject_id and f.outflow_id = q.outflow_id
),

evidence_rows as (
    select
        e.subject_id,
        e.episode,
        i.kind,
        coalesce(c.tx_id, o.tx_id) as tx_id,
        coalesce(c.timestamp, o.timestamp) as timestamp,
        coalesce(c.amount, o.amount) as amount,
        coalesce(c.currency, o.currency) as currency,
        coalesce(c.amount_rep, o.amount_rep) as amount_rep,
        c.sender,
        o.vasp,
        case
            when i.kind = 'in'
                then replace(c.channel, '_', ' ') || ' credit of ' || format('{:,.2f}', c.amount::double)
                     || ' ' || c.currency || ' from ' || c.sender
            else replace(o.channel, '_', ' ') || ' payment of ' || format('{:,.2f}', o.amount::double)
                 || ' ' || o.currency || ' to ' || o.named_by
                 || case when o.vasp <> 'crypto wallets' then ' (crypto exchange ' || o.vasp || ')'
                         else ' (crypto channel)' end
        end as why
    from evidence_ids i
    left join vasp_account_credits c on i.kind = 'in' and c.tx_id = i.tx_id and c.subject_id = i.subject_id
    left join vasp_outflows o on i.kind = 'out' and o.tx_id = i.tx_id and o.subject_id = i.subject_id
    join episode_bounds e
        on e.subject_id = i.subject_id
        and coalesce(c.timestamp, o.timestamp) >= e.episode_start
        and coalesce(c.timestamp, o.timestamp) <= e.episode_limit
),

episode_facts as (
    select
        subject_id,
        episode,
        count(*) filter (where kind = 'in') as n_in,
        count(distinct sender) as senders,
        count(*) filter (where kind = 'out') as n_out,
        list_sort(list_distinct(list(vasp) filter (where kind = 'out'))) as vasps,
        sum(amount) filter (where kind = 'in') as in_amount,
        sum(amount) filter (where kind = 'out') as out_amount,
        sum(amount_rep) filter (where kind = 'in') as in_rep,
        sum(amount_rep) filter (where kind = 'out') as out_rep
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
        subject_id,
        window_start,
        window_end,
        tx_count,
        amount_total,
        evidence,
        n_in || ' P2P credits from ' || senders || ' senders ('
            || money_text(in_amount, in_rep, one_currency, currency)
            || '), then ' || n_out || ' payment' || case when n_out = 1 then '' else 's' end
            || ' of '
            || money_text(out_amount, out_rep, one_currency, currency)
            || ' to ' || array_to_string(vasps, ' and ')
            || ', each within ' || $hours_before || ' hours of the credits that funded it' as reason,
        'collector' as likely_role
    from episode_totals
)

select * from final
