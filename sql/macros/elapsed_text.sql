-- How long an episode lasted, in a reason: elapsed_text(first_at, last_at) -> '1 hour'
-- up to one whole hour, whole hours below 48 ('7 hours'), else whole days ('3 days').
create or replace macro elapsed_text(first_at, last_at)
as case
    when date_diff('hour', first_at, last_at) <= 1 then '1 hour'
    when date_diff('hour', first_at, last_at) < 48
        then date_diff('hour', first_at, last_at) || ' hours'
    else date_diff('day', first_at, last_at) || ' days' end;
