-- ISO 8601 text to a local timestamp: a zone suffix after the time of day (Z, +02,
-- -05:00) is dropped so the wall-clock time of the export is kept; NULL when invalid.
create or replace macro iso_local_timestamp(text) as try_cast(
    regexp_replace(
        text,
        '([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)\s*(Z|[+-]\d{2}(:?\d{2})?)$',
        '\1'
    ) as timestamp);
