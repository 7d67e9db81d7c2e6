-- How long an episode lasted, in a reason: span_text(first_timestamp, last_timestamp) ->
-- '1 hour' up to an hour, 'N hours' under two days, else 'N days' (the hour and day
-- boundaries crossed, as date_diff counts them).
create or replace macro span_text(first_timestamp, last_timestamp) as case
    when date_diff('hour', first_timestamp, last_timestamp) <= 1 then '1 hour'
    when date_diff('hour', first_timestamp, last_timestamp) < 48
        then date_diff('hour', first_timestamp, last_timestamp) || ' hours'
    else date_diff('day', first_timestamp, last_timestamp) || ' days' end;
