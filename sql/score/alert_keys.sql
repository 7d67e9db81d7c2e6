-- One alert per subject account; its id hashes the ids of all the account's hits, so the
-- same hits give the same alert id on every run, whatever their order.
with final as (
    select subject_id,
           substr(sha256('alert|' || subject_id || '|'
                         || string_agg(hit_id, ',' order by hit_id)), 1, 32) as alert_id
    from scored_hits
    group by subject_id
)

select * from final
