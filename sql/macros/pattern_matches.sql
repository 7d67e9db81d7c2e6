-- Descriptor matching against ref_merchant_patterns (case-insensitive RE2 regexes):
-- select * from pattern_matches(texts, ['vasp', 'tppp']), where texts is a table or
-- CTE with a column named text (categories NULL: every category)
-- -> text, category, label (the pattern's note up to its first colon, else the
-- pattern), one row per distinct text and matching category.
-- A regex whose pattern comes from a table is compiled again for every row it meets,
-- so testing every text against every pattern costs (texts x patterns) compilations.
-- Instead the texts are joined into 256 newline-separated blocks and each pattern runs
-- once per block, wrapped so that it returns whole lines: every text the pattern
-- matches lies inside one of the returned lines. Only those candidates are then
-- tested one by one, so the result is exactly that of testing every pair. Texts
-- containing a newline, and patterns with absolute anchors (\A, \z) or flag switches
-- that behave differently inside the joined block, are tested pair by pair.
create or replace macro pattern_matches(texts, categories) as table
with wanted_patterns as (
    select
        pattern,
        category,
        case when strpos(note, ':') > 1 then trim(split_part(note, ':', 1))
             else pattern end as label,
        not regexp_matches(pattern, '\\[Az]|\(\?[a-zA-Z]*-') as joinable
    from ref_merchant_patterns
    where categories is null or list_contains(categories, category)
),
distinct_texts as (
    select distinct text from query_table(texts) where text is not null
),
text_blocks as (
    select hash(text) % 256 as block, string_agg(text, chr(10)) as joined
    from distinct_texts
    where strpos(text, chr(10)) = 0
    group by block
),
candidate_pairs as (
    select distinct p.pattern, p.category, p.label, line as text
    from text_blocks b
    join wanted_patterns p on p.joinable
    cross join unnest(flatten(list_transform(
        regexp_extract_all(
            b.joined, '(?m)^[^\n]*(?:' || p.pattern || ')[^\n]*$', 0, 'i'),
        lambda span: string_split(span, chr(10))))) as u(line)
    union all
    select p.pattern, p.category, p.label, d.text
    from distinct_texts d
    join wanted_patterns p on strpos(d.text, chr(10)) > 0 or not p.joinable
)
select text, category, min(label) as label
from candidate_pairs
where regexp_matches(text, pattern, 'i')
group by text, category;
