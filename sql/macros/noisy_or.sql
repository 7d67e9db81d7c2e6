-- Two independent pieces of evidence on the 0-100 risk scale combined: noisy_or(a, b) =
-- 100 * (1 - (1 - a / 100) * (1 - b / 100)). One strong indicator counts fully and each
-- further one raises the score without passing 100 (README, "How alerts are ranked").
create or replace macro noisy_or(a, b) as 100 * (1 - (1 - a / 100) * (1 - b / 100));
