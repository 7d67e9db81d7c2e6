-- LAB-01: several workers' wages credited to one account. Within one pay period
-- (period_days calendar days) an account receives wage credits of at least min_workers
-- different workers: from different wage payers (employers or payroll processors), or
-- from one payer whose payment descriptions name different people.
--
-- The worker behind a wage credit is the pair (wage payer, name in the description).
-- The name is what is left of the description once payroll wording, period words, month
-- names, digits and punctuation are removed; it counts only when at least two words are
-- left (a first and a last name), so "SALARY ADVANCE" or "ADP PAYROLL" name nobody and
-- one employer's salary, bonus and advance stay one worker. Wage credits per account are
-- few; accounts are first screened on their distinct workers over the whole scan, then
-- windows opening on each wage day are counted exactly through an equi-join on
-- (account, day).
-- wage credits come from the shared wage_credits table (sql/features/wage_credits.sql):
-- ACH, wire, cheque or book-transfer credits with payroll wording or a payroll
-- processor's name; credits into an account that itself pays wages to several
-- accounts (an employer or processor receiving "PAYROLL FUNDING") are left out.
with worker_wage_credits as materialized (
    select * exclude (worker_pays_wages)
    from wage_credits
    where not worker_pays_wages
),

named_credits as materialized (
    select
        *,
        trim(regexp_replace(
            regexp_replace(
                regexp_replace(upper(coalesce(description, '')), '[^\pL ]+', ' ', 'g'),
                '\b(PAY|ROLL|PAYROLL|SALARY|SALARIES|WAGE|WAGES|PAYCHEQUE|PAYCHECK|DIRECT|DEPOSIT|DIR|DEP|ACH|PPD|CCD|NET|GROSS|REG|REGULAR|PERIOD|PP|WEEK|WEEKLY|BIWEEKLY|FORTNIGHTLY|MONTH|MONTHLY|JAN|JANUARY|FEB|FEBRUARY|MAR|MARCH|APR|APRIL|MAY|JUN|JUNE|JUL|JULY|AUG|AUGUST|SEP|SEPT|SEPTEMBER|OCT|OCTOBER|NOV|NOVEMBER|DEC|DECEMBER|ADVANCE|ARREARS|BONUS|OVERTIME|HOLIDAY|VACATION|COMMISSION|EXPENSE|EXPENSES|REIMBURSEMENT|PAYMENT|TRANSFER|CREDIT|FUNDING|REF|FINAL|RETRO|ADJ|ADJUSTMENT|FOR|OF|THE|AND|TO)\b',
                ' ', 'g'),
            ' +', ' ', 'g')) as memo_rest
    from worker_wage_credits
),

worker_credits as materialized (
    select
        worker as subject_id,
        *,
        -- at least two words left: a person's name
        len(memo_rest) - len(replace(memo_rest, ' ', '')) >= 1 as names_person,
        wage_payer || chr(31) || case when len(memo_rest) - len(replace(memo_rest, ' ', '')) >= 1
                                      then memo_rest else '' end as worker_key
    from named_credits
),

-- accounts whose wage credits over the whole scan come from enough workers
subjects as (
    select subject_id
    from worker_credits
    group by subject_id
    having count(distinct worker_key) >= $min_workers
),

worker_days as materialized (
    select w.subject_id, w.day, w.worker_key
    from worker_credits w
    semi join subjects s on s.subject_id = w.subject_id
    group by w.subject_id, w.day, w.worker_key
),

-- a window of period_days opens on each day with a wage credit; each is copied onto its
-- days for an equi-join on (account, day)
window_days as (
    select d.subject_id, d.day as window_day, d.day + k.day_offset::integer as day
    from (select distinct subject_id, day from worker_days) d
    cross join generate_series(0, $period_days - 1) as k(day_offset)
),

qualifying as (
    select
        w.subject_id,
        w.window_day as window_start,
        w.window_day + ($period_days - 1)::integer as window_limit
    from window_days w
    join worker_days d on d.subject_id = w.subject_id and d.day = w.day
    group by w.subject_id, w.window_day
    having count(distinct d.worker_key) >= $min_workers
),

-- overlapping qualifying windows of one account form one episode (calendar days)
episode_bounds as (
    select * from merged_windows(qualifying)
),

evidence_rows as (
    select
        w.*,
        replace(w.channel, '_', ' ') || ' wage credit of '
            || format('{:,.2f}', w.amount::double) || ' ' || w.currency
            || ' from ' || w.wage_payer
            || coalesce(' ("' || w.description || '")', '') as why
    from episode_day_rows(episode_bounds, worker_credits) w
),

episode_facts as (
    select
        subject_id,
        episode,
        count(distinct worker_key) as workers,
        count(distinct wage_payer) as payers,
        count(distinct memo_rest) filter (where names_person) as names,
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
        tx_count || ' wage credits of ' || workers || ' workers ('
            || payers || ' wage payer' || case when payers = 1 then '' else 's' end
            || case when names > 0
                    then ', ' || names || ' name' || case when names = 1 then '' else 's' end
                         || ' in the descriptions'
                    else '' end
            || ') totalling '
            || money_text(amount_own, amount_total, one_currency, currency)
            || ' within ' || days || ' day' || case when days = 1 then '' else 's' end
            as reason,
        'collector' as likely_role
    -- amounts are quoted in their own currency when the episode has only one
    from episode_hits(evidence_rows) h
    join episode_facts f using (subject_id, episode)
)

select * from final
