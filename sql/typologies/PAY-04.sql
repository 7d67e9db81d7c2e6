-- PAY-04: a personal account receiving many payouts from third-party payment processors.
--
-- A payout is a credit (channels) whose sending side names a processor on the tppp list:
-- the sender id (src_account), the merchant descriptor or the payment description. When
-- an accounts file is given only accounts it marks individual are subjects (businesses
-- are paid by processors as a matter of course); without one every account is. A window
-- of window_days qualifies with min_payouts payouts; overlapping windows make one hit.
with credit_rows as materialized (
    select
        t.tx_id,
        t.timestamp,
        t.src_account,
        t.dst_account,
        t.amount,
        t.currency,
        t.amount_rep,
        t.channel,
        t.merchant_name,
        t.description
    from transactions t
    where list_contains($channels::varchar[], t.channel)
      and t.src_account <> cash_account()
      and t.dst_account <> cash_account()
),

-- every text on the sending side, matched once per distinct value
sender_texts as (
    select src_account as text from credit_rows
    union
    select merchant_name from credit_rows where merchant_name is not null
    union
    select description from credit_rows where description is not null
),

-- texts naming a processor, matched once per distinct text by the pattern_matches macro;
-- label: the processor's name from the pattern's note ("PayPal: third-party payment
-- processor ..."), else the pattern
tppp_texts as (
    select text, label
    from pattern_matches(sender_texts, ['tppp'])
),

-- credits whose sending side names a processor; the IN lists are the few matched texts
processor_credits as materialized (
    select c.*
    from credit_rows c
    where c.src_account in (select text from tppp_texts)
       or c.merchant_name in (select text from tppp_texts)
       or c.description in (select text from tppp_texts)
),

-- with an accounts file, only accounts it marks individual can be subjects
has_accounts as (
    select count(*) > 0 as present from accounts
),

payouts as materialized (
    select
        c.*,
        c.dst_account as subject_id,
        -- the processor and the text that named it, for the evidence
        coalesce(s.label, m.label, d.label) as processor,
        coalesce(s.text, m.text, d.text) as named_by
    from processor_credits c
    left join tppp_texts s on s.text = c.src_account
    left join tppp_texts m on m.text = c.merchant_name
    left join tppp_texts d on d.text = c.description
    left join accounts a on a.account_id = c.dst_account
    where not (select present from has_accounts)
       or a.customer_type = 'individual'
),

-- each payout opens a window; count the payouts inside it
qualifying as (
    select * from count_windows(payouts, to_days($window_days), $min_payouts)
),

-- overlapping qualifying windows of one account form one episode
episode_bounds as (
    select * from merged_windows(qualifying)
),

evidence_rows as (
    select
        *,
        replace(channel, '_', ' ') || ' credit of ' || format('{:,.2f}', amount::double)
            || ' ' || currency || ' from ' || src_account
            || case when named_by <> src_account then ' (' || named_by || ')' else '' end
            || ': payment processor ' || processor as why
    from episode_rows(episode_bounds, payouts)
),

episode_facts as (
    select
        subject_id,
        episode,
        list_sort(list_distinct(list(processor))) as processors,
        min(amount) as min_amount,
        max(amount) as max_amount,
        min(amount_rep) as min_rep,
        max(amount_rep) as max_rep
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
        tx_count || ' payouts from payment processors ('
            || array_to_string(list_slice(processors, 1, 3), ', ')
            || case when len(processors) > 3 then ' and ' || (len(processors) - 3) || ' more' else '' end
            || ') of '
            || case
                when one_currency and min_amount = max_amount
                    then format('{:,.2f}', min_amount::double) || ' ' || currency || ' each'
                else money_range_text(min_amount, max_amount, min_rep, max_rep, one_currency, currency) end
            || ' in '
            || span_text(window_start, window_end)
            || case
                when (select present from has_accounts) then ' into an account marked individual'
                else ' (customer type unknown: no accounts file)' end as reason,
        'collector' as likely_role
    from episode_totals
)

select * from final
