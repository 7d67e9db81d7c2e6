-- merchant_categories: every distinct merchant descriptor of the scan that matches a
-- pattern of ref_merchant_patterns, with the pattern's category (adult_ad, vasp, tppp,
-- prepaid_card, inmate_telecom, foreign_classified, payroll_processor) and a label for
-- reasons. Built once per scan; typologies join it on merchant_name instead of each
-- running the regexes again. A descriptor may sit in several categories (one row each).
with merchant_texts as (
    select distinct merchant_name as text
    from transactions
    where merchant_name is not null
)

select text as merchant_name, category, label
from pattern_matches(merchant_texts, null)
