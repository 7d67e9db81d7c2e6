-- PAY-04: a personal account receiving many payouts from third-party payment processors.
--
-- A payout is a credit (channels) whose sending side names a processor on the tppp list:
-- the sender id (src_account), the merchant descriptor or the payment description. When
-- an accounts file is given only accounts it marks individual are subjects (businesses
-- are paid by processors as a matter of course); without one every account is. A window
-- of window_days qualifies with min_payouts payouts; overlapping windows make one hit.
-- The sending texts are matched once per distinct value: the sender ids as the ids of
-- every account (account_keys holds each account once; the senders of the credits are
-- among them, and a text matched but never sent changes no credit), the merchant
-- descriptors and payment descriptions as the distinct values of the credits, read
-- without the other columns.
with credit_texts as (
    select merchant_name, description
    from transactions
    semi join (select unnest($channels::varchar[]) as channel) c using (channel)
    where src_account <> cash_account()
      and dst_account <> cash_account()
),

sender_texts as (
    select account_id as text from account_keys
    union
    select merchant_name from credit_texts where merchant_name is not null
    union
    select description from credit_texts where description is not null
),

-- texts naming a processor, matched once per distinct text by the pattern_matches macro;
-- label: the processor's name from the pattern's note ("PayPal: third-party payment
-- processor ..."), else the pattern
tppp_texts as materialized (
    select text, label
    from pattern_matches(sender_texts, ['tppp'])
),

-- the transfers by the channels between two accounts, every column the hits read (inlined
-- into each part below, so each part's own semi join filters the scan)
channel_transfers as not materialized (
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
    semi join (select unnest($channels::varchar[]) as channel) c on c.channel = t.channel
    where t.src_account <> cash_account()
      and t.dst_account <> cash_account()
),

-- credits whose sending side names a processor, each once: those whose sender id is
-- matched, then those whose merchant descriptor is, then those whose description is.
-- Each part picks its credits by its own column before the other columns are read.
processor_credits as materialized (
    select t.*
    from channel_transfers t
    semi join tppp_texts x on x.text = t.src_account
    union all
    select t.*
    from channel_transfers t
    semi join tppp_texts x on x.text = t.merchant_name
    where t.merchant_name is not null
      and t.src_account not in (select text from tppp_texts)
    union all
    select t.*
    from channel_transfers t
    semi join tppp_texts x on x.text = t.description
    where t.description is not null
      and t.src_account not in (select text from tppp_texts)
      and not coalesce(t.merchant_name in (select text from tppp_texts), false)
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
