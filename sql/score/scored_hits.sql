-- Every hit of the scan with its scores (own_hits: typology and anomaly hits; link_hits: the
-- LINK hits earned from the accounts an account moves its money with). Alerts, their keys,
-- their evidence and hits.parquet read this table.
with final as (
    select * from own_hits
    union all
    select * exclude (link_source) from link_hits
)

select * from final
