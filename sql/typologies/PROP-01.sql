-- PROP-01: one payer funds several properties. Rent paid to at least min_landlords
-- distinct landlords or property managers within window_days, or property tax paid to
-- at least min_tax_payees distinct payees within tax_window_days.
--
-- A rent payment is an outflow of at least min_rent_amount whose MCC is in rent_groups
-- (6513 real-estate rentals) or whose description or payee name has rent wording, unless
-- the wording says it is a parking space, garage, storage unit, vehicle or equipment
-- (rent_non_housing). A property-tax payment is an outflow whose description or payee
-- name has property-tax wording. Whether a payee is a municipality needs a government
-- payee list that transaction exports do not carry, so payees are told apart by account
-- id only. Merchant names are read from the shared merchant_categories table; the
-- descriptions of the scan are matched once per distinct text. Payers the accounts file
-- lists with a customer type outside customer_types (businesses paying the rent of
-- their shops and offices) are left out.
with description_texts as (
    select distinct description as text from transactions where description is not null
),

description_matches as (
    select text, category, label
    from pattern_matches(description_texts, ['rent_payment', 'rent_non_housing', 'property_tax'])
),

rent_mccs as (
    select distinct mcc from ref_mcc_groups where list_contains($rent_groups::varchar[], mcc_group)
),

-- the outflows some tag below can match, pruned before anything else reads them: rent
-- and tax payments are a sliver of all payments, so the payer's customer type is looked
-- up for those only
tag_outflows as (
    select
        t.src_account as subject_id,
        t.dst_account as payee,
        t.tx_id, t.timestamp, t.day, t.amount, t.currency, t.amount_rep, t.channel,
        t.mcc, t.merchant_name, t.description
    from transactions t
    where t.src_account <> cash_account()
      and t.dst_account <> cash_account()
      and (t.mcc in (select mcc from rent_mccs)
           or t.description in (select text from description_matches)
           or t.merchant_name in (
               select merchant_name from merchant_categories
               where category in ('rent_payment', 'rent_non_housing', 'property_tax')))
),

outflows as materialized (
    select o.*
    from tag_outflows o
    left join accounts a on a.account_id = o.subject_id
    where a.customer_type is null or list_contains($customer_types::varchar[], a.customer_type)
),

-- one row per outflow and category it matches, by MCC, description or payee name
tagged as (
    select o.tx_id, 'rent_payment' as category, 'MCC ' || o.mcc as label
    from outflows o
    semi join rent_mccs m on m.mcc = o.mcc
    union all
    select o.tx_id, d.category, d.label
    from outflows o
    join description_matches d on d.text = o.description
    union all
    select o.tx_id, m.category, m.label
    from outflows o
    join merchant_categories m on m.merchant_name = o.merchant_name
    where m.category in ('rent_payment', 'rent_non_housing', 'property_tax')
),

tx_kinds as (
    select
        tx_id,
        bool_or(category = 'rent_payment') and not bool_or(category = 'rent_non_housing')
            as is_rent,
        bool_or(category = 'property_tax') as is_tax
    from tagged
    group by tx_id
),

rent_payments as materialized (
    select o.*
    from outflows o
    join tx_kinds k using (tx_id)
    where k.is_rent
      -- parking fees, deposits on small items and bill splits are not a property's rent
      and o.amount_rep >= $min_rent_amount
),

tax_payments as materialized (
    select o.*
    from outflows o
    join tx_kinds k using (tx_id)
    where k.is_tax and not k.is_rent
),

-- rent: distinct payees per rolling window, on day buckets (as GRAPH-01's senders)
payee_days as (
    select subject_id, day, payee from rent_payments group by all
),

-- a payer with fewer than min_landlords rent payees over the whole scan has no window
-- to count
several_payees as (
    select subject_id from payee_days group by subject_id
    having count(distinct payee) >= $min_landlords
),

bounded as (
    select
        subject_id,
        day as window_day,
        sum(payees) over (
            partition by subject_id order by day
            range between current row and to_days($window_days - 1) following
        ) as payee_bound
    from (
        select subject_id, day, count(*) as payees
        from payee_days
        semi join several_payees using (subject_id)
        group by all
    )
),

candidate_window_days as (
    select b.subject_id, b.window_day, b.window_day + k.day_offset::integer as day
    from bounded b
    cross join generate_series(0, $window_days - 1) as k(day_offset)
    where b.payee_bound >= $min_landlords
),

rent_window_counts as (
    select w.subject_id, w.window_day, count(distinct p.payee) as landlords
    from candidate_window_days w
    join payee_days p on p.subject_id = w.subject_id and p.day = w.day
    group by w.subject_id, w.window_day
),

-- a payer with more than max_landlords rent payees in one window pays rents as its
-- trade (relocation or corporate-housing agent, a property fund): left to the detectors
rent_hubs as (
    select subject_id from rent_window_counts group by subject_id
    having max(landlords) > $max_landlords
),

rent_windows as (
    select
        c.subject_id,
        c.window_day as window_start,
        c.window_day + ($window_days - 1)::integer as window_limit
    from rent_window_counts c
    anti join rent_hubs h on h.subject_id = c.subject_id
    where c.landlords >= $min_landlords
),

-- property tax: payments are few, so each is paired with the same payer's later ones
tax_windows as (
    select
        a.subject_id,
        a.day as window_start,
        a.day + ($tax_window_days - 1)::integer as window_limit
    from tax_payments a
    join tax_payments b
        on b.subject_id = a.subject_id
        and b.day >= a.day
        and b.day < a.day + $tax_window_days::integer
    group by a.subject_id, a.day
    having count(distinct b.payee) >= $min_tax_payees
),

episodes as (
    select 'rent' as kind, * from merged_windows(rent_windows)
    union all
    select 'tax', * from merged_windows(tax_windows)
),

episode_payments as (
    select e.kind, e.subject_id, e.episode, p.* exclude (subject_id)
    from episodes e
    join rent_payments p
        on e.kind = 'rent'
        and p.subject_id = e.subject_id
        and p.day between e.episode_start and e.episode_limit
    union all
    select e.kind, e.subject_id, e.episode, p.* exclude (subject_id)
    from episodes e
    join tax_payments p
        on e.kind = 'tax'
        and p.subject_id = e.subject_id
        and p.day between e.episode_start and e.episode_limit
),

per_payee as (
    select
        kind, subject_id, episode, payee,
        sum(amount) as amount, min(currency) as currency, count(distinct currency) as currencies
    from episode_payments
    group by all
),

payee_lists as (
    select
        kind, subject_id, episode,
        count(*) as payees,
        string_agg(
            payee || ' (' || case when currencies = 1
                                  then format('{:,.2f}', amount::double) || ' ' || currency
                                  else 'several currencies' end || ')',
            ', ' order by payee) as payee_list
    from per_payee
    group by all
),

evidence_rows as (
    select
        *,
        case kind when 'rent' then 'rent' else 'property tax' end
            || ' of ' || format('{:,.2f}', amount::double) || ' ' || currency
            || ' to ' || payee || ' by ' || replace(channel, '_', ' ')
            || coalesce(' (' || coalesce(description, merchant_name) || ')', '') as why
    from episode_payments
),

rent_evidence as (
    select * from evidence_rows where kind = 'rent'
),

tax_evidence as (
    select * from evidence_rows where kind = 'tax'
),

-- rent and tax episodes are numbered apart, so each kind is summed on its own
episode_totals as (
    select *, date_diff('day', window_start::date, window_end::date) + 1 as days
    from (
        select 'rent' as kind, * from episode_hits(rent_evidence)
        union all
        select 'tax', * from episode_hits(tax_evidence)
    )
),

final as (
    select
        t.subject_id,
        t.window_start,
        t.window_end,
        t.tx_count,
        t.amount_total,
        t.evidence,
        case t.kind
            when 'rent' then 'rent paid to ' || l.payees || ' landlords or property managers'
            else 'property tax paid to ' || l.payees || ' payees'
        end || ' in ' || t.tx_count || ' payment' || case when t.tx_count = 1 then '' else 's' end
            || ' within ' || t.days || ' day' || case when t.days = 1 then '' else 's' end
            || ': ' || l.payee_list as reason,
        'controller' as likely_role
    from episode_totals t
    join payee_lists l using (kind, subject_id, episode)
)

select * from final
