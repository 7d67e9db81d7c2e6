-- The id of one hit: a hash of what the hit is (typology, its version, subject, window),
-- so a re-run gives the same ids and a new typology version gives new ones. Every table
-- of hits (typology hits, anomaly hits) names its rows with this macro.
-- Usage: hit_id('STR-01', 2, subject_id, window_start, window_end) -> 32 hex characters.
create or replace macro hit_id(typology_id, typology_version, subject_id, window_start,
                               window_end)
as substr(sha256(concat_ws('|', typology_id, typology_version::varchar, subject_id,
                           window_start::varchar, window_end::varchar)), 1, 32);
