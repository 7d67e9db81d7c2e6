-- Hits of the LINK pseudo-typology: evidence an account earns from the account it moves
-- most of its money with, rather than from the shape of its own transactions (README, "How
-- alerts are ranked"). Four kinds, none read back to make further links:
--
--   beneficiary  an account with victim-side indicators (a victim-role hit) moved most of its
--                money with this account: at least $link_share of all it sent went here, or
--                of all it received came from here. FinCEN FIN-2020-A008 says the victim is
--                not the subject; FINTRAC's Project PROTECT indicators (deposit then quick
--                transfer to a third party, depleted account, funnel) point at whoever takes
--                or supplies the money. Score: noisy-OR of the victim's victim-side families
--                at full weight (the victim_weight halving kept them from opening the victim's
--                own alert; here they describe the other side) and $link_score for the tie
--                itself, a second, independent indicator.
--   member       an account that moved most of its money with an account whose own evidence
--                opens an alert (a non-victim source): the one-hop term of propagated_risk,
--                $decay * own_score(source) * share, raised as a hit where it reaches
--                $threshold, i.e. about 80% or more of its money moved with a source scoring
--                80 or more. The members of a network open beside its hub; a customer who
--                paid the hub among many others does not. Below $threshold the tie is a hit
--                only for a recipient: at least $link_share of all its money moved with the
--                source and at least $link_share of all it received (wages and card
--                payments apart) came from it. The flagged account's money went on to it
--                (its beneficiary, its next layer: FATF's "follow the money"), where those
--                who pay into a collector may be its victims or customers. Such a hit does
--                not rank (effective_score 0): the propagated risk already ranks it by the
--                same term. It opens on its own where the export shows the account dealing
--                with someone besides the source (a second counterparty, cash included):
--                then the source's money being most of what it received is a fact about the
--                account's income, worth $link_score beside the propagated term (opening
--                noisy_or(term, $link_score), as the tie beside a victim's evidence). An
--                account seen only with the source (an outside payee the export shows
--                through its payments from the source alone) has a 100% share by
--                construction, which says nothing of its money, as for an account seen
--                once: its hit opens only beside its own evidence (a rule hit, its anomaly
--                above the floor: account_signals).
--   conduit      most of what the account received (at least $link_share) came from, and most
--                of what it sent went to, accounts whose own evidence opens an alert, the
--                main one on each side a different account: it carries money between them (a
--                layer of a chain, a scatter-gather intermediary; FATF's layering). Score: the
--                own score of the weaker end.
--   participant  an account of a money-flow structure that a typology of $structure_families
--                found on an account whose own evidence opens an alert (the senders of a
--                fan-in, the payees of a fan-out or a bipartite block, the links of a chain or
--                a cycle, the middle layers of a stack or a scatter-gather, the senders and
--                payees of a pass-through or of a dormant or new account's burst: the
--                transactions of the hit's evidence), where those transactions carry at
--                least $link_share of all its money, in and out. AMLSim, AMLworld and
--                AMLGentex label every account of such a pattern, and a structure's rule
--                can name only one side as its subject; an ordinary account that paid into
--                the structure among much else does not qualify. The accounts of a
--                structure whose rule binds every one of them ($block_typologies: the
--                payees of a dense bipartite block, the layers of a stack, the
--                intermediaries of a scatter-gather) qualify whatever share of their money
--                it carries: their place in it is the rule's own condition. Score: the
--                structure's hit at its opening score.
--
-- Accounts with victim-side evidence of their own never receive a link (their ties are
-- what makes them look like victims). No kind links an account seen in a single
-- transaction: the share of an account's money is read only where the export shows the
-- account doing something else too.
-- Hubs (merchants, employers, billers: more than the propagation limit of distinct
-- counterparties) and cash never link: counterparty_flows holds only pairs of non-hubs.
-- Evidence: the transactions between the two accounts (at most $max_evidence, earliest first).
with seen_once as (
    -- accounts with a single transaction in the scan: their share is 100% by construction
    -- (an outside payee paid once, a one-off payer), which says nothing of their money
    select account_id from account_features where in_count + out_count < 2
),

victim_families as (
    -- typologies whose victim-side evidence is the pass-on itself ($pass_on_typologies: a
    -- wage passed on, an account kept depleted) would count the tie twice: they link nothing
    select subject_id as victim, family, max(risk_score) as best,
           list(distinct typology_id order by typology_id) as typologies
    from own_hits
    where likely_role = 'victim' and typology_id <> 'ANOMALY'
      and not list_contains($pass_on_typologies::varchar[], typology_id)
    group by all
),

victims as (
    select victim,
           100 * (1 - product(1 - best / 100 order by family)) as victim_score,
           flatten(list(typologies order by family)) as typologies
    from victim_families
    group by victim
),

victim_accounts as (
    -- accounts with victim-side evidence of their own: their ties to the accounts around
    -- them are what makes them look like victims, never a link of theirs
    select distinct subject_id as account_id from own_hits where likely_role = 'victim'
),

sources as (
    select account_id as source, own_score
    from account_signals
    where opening_score >= $threshold and opening_score > 0 and likely_role <> 'victim'
      and $hops >= 1
),

structure_tx as (
    -- the transactions of the structures ($structure_families) found on accounts whose own
    -- evidence opens an alert, as a non-victim hit: a structural hit's evidence is the
    -- structure itself
    select distinct h.subject_id as source, h.typology_id, h.opening_score as score, ev.tx_id
    from own_hits h
    cross join unnest(h.evidence) as u(ev)
    where list_contains($structure_families::varchar[], h.family)
      and h.likely_role <> 'victim'
      and h.subject_id in (select source from sources)
),

tie_parties as (
    -- the accounts whose transactions the ties read: the victims (all their money) and the
    -- sources (the money moved with them). Every tie is made across a pair of two non-hubs
    -- that counterparty_flows holds (beneficiaries, source_legs and member_terms join its
    -- pairs, and the links' evidence is the money of those pairs), so a victim or source
    -- it never names as an account (a hub) ties nothing, and its transactions need no
    -- reading
    select p.account_id
    from (select victim as account_id from victims union select source from sources) p
    semi join counterparty_flows f on f.account_id = p.account_id
),

tie_transactions as materialized (
    -- one read of the transactions for every leg below: those with a victim or a source
    -- of a tie as a party (all their legs), and the structures' evidence
    select tx_id, timestamp, src_account, dst_account, channel, amount_rep
    from transactions
    where src_account in (select account_id from tie_parties)
       or dst_account in (select account_id from tie_parties)
       or tx_id in (select tx_id from structure_tx)
),

tie_legs as materialized (
    -- both legs of those transactions, as account_legs makes them (cash is never the
    -- account, only the counterparty): every leg of account_legs whose account or
    -- counterparty is one of tie_parties, beside the legs of the structures' evidence
    select dst_account as account_id, 'in' as direction, src_account as counterparty,
           tx_id, timestamp, channel, amount_rep
    from tie_transactions
    where dst_account <> cash_account()
    union all
    select src_account, 'out', dst_account, tx_id, timestamp, channel, amount_rep
    from tie_transactions
    where src_account <> cash_account()
),

structure_transactions as materialized (
    -- every structure's evidence, from the one read of the transactions
    select s.source, s.typology_id, s.score, t.tx_id, t.src_account, t.dst_account,
           t.timestamp, t.amount_rep, t.channel
    from structure_tx s
    join tie_transactions t on t.tx_id = s.tx_id
),

structure_sides as materialized (
    -- both legs of those transactions, as account_legs makes them (cash is never the
    -- account, only the counterparty)
    select source, typology_id, score, tx_id, timestamp, amount_rep, channel,
           dst_account as account_id, src_account as counterparty
    from structure_transactions
    where dst_account <> cash_account()
    union all
    select source, typology_id, score, tx_id, timestamp, amount_rep, channel,
           src_account, dst_account
    from structure_transactions
    where src_account <> cash_account()
),

tie_flows as materialized (
    -- one read of counterparty_flows for every join of it below: the pairs of a victim of
    -- tie_parties (beneficiaries), of a source (source_legs, member_terms) and of an
    -- account of a structure (structure_legs)
    select account_id, counterparty, share
    from counterparty_flows
    where account_id in (select account_id from tie_parties)
       or counterparty in (select source from sources)
       or account_id in (select account_id from structure_sides)
),

victim_legs as (
    -- a wage is no controller's supply and a card purchase no controller's take: both
    -- count in the victim's money but make no tie (employers, merchants). All the money
    -- of each victim of tie_parties (tie_legs holds only some legs of the others: those
    -- of the structures' evidence)
    select l.account_id as victim, l.direction, l.counterparty, l.amount_rep, l.timestamp,
           l.tx_id in (select tx_id from wage_credits) or l.channel = 'card' as is_wage_or_card
    from tie_legs l
    where l.account_id in (select account_id from tie_parties)
      and l.account_id in (select victim from victims)
),

victim_totals as (
    select victim, direction, sum(amount_rep) as total
    from victim_legs group by all
),

ties as (
    -- (victim, counterparty, direction) where the counterparty took or supplied most of it.
    -- A standing order (the same amount, within $standing_tolerance, in two or more
    -- calendar months: rent, an allowance) is a fixed living cost agreed in advance, not a
    -- share of what the account earns: it makes no tie, as the GRAPH rules treat
    -- recurring pairs
    select l.victim, l.counterparty as subject_id, l.direction,
           sum(l.amount_rep) / any_value(t.total) as share
    from victim_legs l
    join victim_totals t using (victim, direction)
    where l.counterparty <> l.victim and not l.is_wage_or_card
    group by l.victim, l.counterparty, l.direction
    having sum(l.amount_rep) >= $link_share * any_value(t.total) and any_value(t.total) > 0
       and not (count(distinct date_trunc('month', l.timestamp)) >= 2
                and max(l.amount_rep) <= (1 + $standing_tolerance) * min(l.amount_rep))
),

beneficiaries as (
    select t.subject_id, t.victim as source, max(t.share) as share,
           arg_max(t.direction, (t.share, t.direction)) as direction,
           any_value(v.victim_score) as source_score,
           any_value(v.typologies) as typologies,
           noisy_or(any_value(v.victim_score), $link_score) as score
    from ties t
    join victims v using (victim)
    -- the pair is one of two non-hubs (counterparty_flows keeps no other)
    join tie_flows f on f.account_id = t.victim and f.counterparty = t.subject_id
    where t.subject_id not in (select account_id from seen_once)
      and t.subject_id not in (select account_id from victim_accounts)
    group by t.subject_id, t.victim
),

network_excluded as (
    -- accounts no network link (member, conduit, participant) reaches: the sources
    -- themselves, accounts seen once, accounts with victim-side evidence of their own
    select source as account_id from sources
    union
    select account_id from seen_once
    union
    select account_id from victim_accounts
),

source_legs as (
    -- transfers between an account and the sources: no card purchase, no wage (a salary
    -- is the worker's own money), and no hub on either side (counterparty_flows holds
    -- only pairs of non-hubs: a payroll processor's or a landlord's customers share a
    -- service)
    select l.account_id, l.direction, l.counterparty as source, sum(l.amount_rep) as amount
    from tie_legs l
    semi join tie_flows f
        on f.account_id = l.account_id and f.counterparty = l.counterparty
    where l.counterparty in (select source from sources) and l.channel <> 'card'
      and l.tx_id not in (select tx_id from wage_credits)
      and l.account_id not in (select account_id from network_excluded)
    group by all
),

recipients as (
    -- accounts that received most of their money (at least $link_share of all they
    -- received, wages and card payments apart) from one source: the money of an account
    -- whose own evidence opens an alert went on to them (its beneficiary, or its next
    -- layer), where the accounts that pay into it are its customers, victims or feeders
    select g.account_id, g.source,
           -- the export shows it dealing with someone besides the source: distinct
           -- counterparties, in and out (cash included), those both paying and paid
           -- counted once
           f.in_counterparties + f.out_counterparties - f.mutual_counterparties >= 2
               as seen_beyond_source
    from source_legs g
    join account_features f using (account_id)
    where g.direction = 'in' and g.amount >= $link_share * f.in_amount and f.in_amount > 0
),

member_terms as (
    -- the one-hop propagation term of every account from every source it moved money
    -- with, and whether it is a recipient of that source's money
    select f.account_id as subject_id, s.source, f.share, s.own_score as source_score,
           $decay * s.own_score * f.share as term,
           r.account_id is not null as is_recipient,
           coalesce(r.seen_beyond_source, false) as seen_beyond_source
    from sources s
    join tie_flows f on f.counterparty = s.source
    left join recipients r on r.account_id = f.account_id and r.source = s.source
    where f.account_id not in (select account_id from network_excluded)
),

members as (
    -- a member opens on its own where the propagation term reaches $threshold. A
    -- recipient's weaker tie (most of its money, most of it received from the source) is
    -- a hit too, which does not move it in the queue: the propagated risk (the same term)
    -- already places it there (its effective_score is 0). It opens on its own where the
    -- account is seen beyond the source (the term and $link_score for its income being
    -- the source's money), else only beside other evidence of the account's own (a rule
    -- hit, its anomaly: account_scores)
    select subject_id, source, share, source_score, term as score,
           case when term < $threshold and seen_beyond_source
                then noisy_or(term, $link_score)
                else term end as opening,
           is_recipient
    from member_terms
    where term >= $threshold or (share >= $link_share and is_recipient)
),

conduit_sides as (
    select g.account_id, g.direction, sum(g.amount) as amount,
           arg_max(g.source, (g.amount, g.source)) as main_source,
           arg_max(s.own_score, (g.amount, g.source)) as main_score
    from source_legs g join sources s using (source)
    group by g.account_id, g.direction
),

conduits as (
    -- most of what the account received came from sources and most of what it sent went
    -- to sources, the main ones on each side different accounts: it carries money between
    -- two accounts whose own evidence opens an alert (a layer of a chain, a scatter-gather
    -- intermediary). Score: the weaker of the two ends.
    select i.account_id as subject_id, i.main_source as source, o.main_source as source2,
           i.amount / f.in_amount as share_in, o.amount / f.out_amount as share_out,
           i.main_score as source_score, o.main_score as source2_score,
           least(i.main_score, o.main_score) as score
    from conduit_sides i
    join conduit_sides o on o.account_id = i.account_id and o.direction = 'out'
    join account_features f on f.account_id = i.account_id
    where i.direction = 'in' and i.main_source <> o.main_source
      and f.in_amount > 0 and f.out_amount > 0
      and i.amount >= $link_share * f.in_amount
      and o.amount >= $link_share * f.out_amount
),

wage_earners as (
    -- accounts whose wages make at least $link_share of what they received: money they pay
    -- into a structure is their own earnings, which a controller collecting workers' wages
    -- takes (LAB-02, CTRL-01; FinCEN FIN-2020-A008: the victim is not the subject), not
    -- money passed through them
    select w.worker as account_id
    from wage_credits w
    join account_features f on f.account_id = w.worker
    where not w.worker_pays_wages
    group by w.worker
    having sum(w.amount_rep) >= $link_share * any_value(f.in_amount)
),

structure_legs as (
    -- every other account of a structure with the money it moved within it, by legs
    -- between two non-hubs only (an employer, a merchant or cash in a structure is not a
    -- member, and moves nothing that counts)
    select l.account_id, l.source, l.typology_id, any_value(l.score) as score,
           sum(l.amount_rep) as amount
    from structure_sides l
    semi join tie_flows f
        on f.account_id = l.account_id and f.counterparty = l.counterparty
    where l.account_id <> l.source
      and l.account_id not in (select account_id from network_excluded)
      and l.account_id not in (select account_id from wage_earners)
    group by l.account_id, l.source, l.typology_id
),

participants as (
    -- the structure carries most of the account's money (in and out together, cash
    -- included), or its rule binds every account of it ($block_typologies); an account in
    -- several structures keeps the strongest
    select g.account_id as subject_id, g.source, g.typology_id,
           g.amount / (f.in_amount + f.out_amount) as share, g.score
    from structure_legs g
    join account_features f using (account_id)
    where (g.amount >= $link_share * (f.in_amount + f.out_amount)
           or list_contains($block_typologies::varchar[], g.typology_id))
      and g.amount > 0
    qualify row_number() over (partition by g.account_id
                               order by g.score desc, g.source, g.typology_id) = 1
),

links as (
    select subject_id, source, null::varchar as source2, 'beneficiary' as kind, score,
           score as opening, 'controller' as likely_role,
           (case when direction = 'out' then 'receives ' else 'pays ' end)
               || printf('%.0f', 100 * share) || '% of all the money '
               || (case when direction = 'out' then 'sent by ' else 'received by ' end)
               || source || ', an account with victim-side indicators ('
               || array_to_string(typologies, ', ') || ', score '
               || printf('%.1f', source_score) || '): whoever takes or supplies a possible '
               || 'victim''s money' as reason
    from beneficiaries
    union all
    select subject_id, source, null, 'member', score, opening, 'mule',
           'moved ' || printf('%.0f', 100 * share) || '% of its money with ' || source
               || ', whose own evidence opens an alert (score '
               || printf('%.1f', source_score) || ')'
               || (case when is_recipient then ' and which supplied most of what it received'
                        else '' end)
               || ': a member of its network'
    from members
    union all
    select subject_id, source, source2, 'conduit', score, score, 'mule',
           'passes money from ' || source || ' (score ' || printf('%.1f', source_score)
               || ') on to ' || source2 || ' (score ' || printf('%.1f', source2_score)
               || '): ' || printf('%.0f', 100 * share_in) || '% of what it received came '
               || 'from, and ' || printf('%.0f', 100 * share_out) || '% of what it sent '
               || 'went to, accounts whose own evidence opens an alert'
    from conduits
    union all
    select subject_id, source, null, 'participant', score, score, 'mule',
           'moved ' || (case when share < 0.005 then 'under 1'
                             else printf('%.0f', 100 * share) end)
               || '% of its money within the ' || typology_id || ' structure found on ' || source || ' (score '
               || printf('%.1f', score) || '): an account of the pattern'
    from participants
),

link_tx as (
    -- card payments are purchases from a merchant, not money moved within a network:
    -- a link needs at least one transfer between the two accounts
    select k.subject_id, k.source, k.kind, l.counterparty, l.tx_id, l.timestamp,
           l.amount_rep, l.channel
    from links k
    join tie_legs l on l.account_id = k.subject_id
                       and (l.counterparty = k.source or l.counterparty = k.source2)
    where k.kind <> 'participant'
    union all
    -- a participant's evidence: its own transactions within the structure
    select distinct p.subject_id, p.source, 'participant', l.counterparty, l.tx_id,
           l.timestamp, l.amount_rep, l.channel
    from participants p
    join structure_sides l on l.source = p.source and l.typology_id = p.typology_id
                          and l.account_id = p.subject_id
),

link_facts as (
    select subject_id, source, kind, min(timestamp) as window_start,
           max(timestamp) as window_end,
           count(*) as tx_count, sum(amount_rep) as amount_total,
           count(*) filter (where channel <> 'card') as transfers,
           list({'tx_id': tx_id, 'why': 'money with ' || counterparty}
                order by timestamp, tx_id)[1:$max_evidence] as evidence
    from link_tx
    group by subject_id, source, kind
),

final as (
    select hit_id('LINK', 1, k.subject_id, f.window_start, f.window_end) as hit_id,
           'LINK' as typology_id, 1 as typology_version,
           k.subject_id, f.window_start, f.window_end, f.tx_count,
           cast(f.amount_total as decimal(38, 4)) as amount_total,
           f.evidence::struct(tx_id varchar, why varchar)[] as evidence,
           k.reason, k.likely_role,
           'LINK' as family,
           case when k.opening >= 60 then 'high' when k.opening >= 40 then 'medium'
                else 'low' end as severity,
           round(k.opening, 4) as risk_score,
           round(k.opening, 4) as opening_score,
           list_position($roles, k.likely_role) as role_priority,
           -- a weak member tie opens beside other evidence but does not rank: the
           -- propagated risk is the same term
           round(case when k.kind = 'member' and k.score < $threshold then 0
                      else k.score end, 4) as effective_score,
           -- the account whose evidence the link carries (a conduit's: where its money
           -- came from), which account_scores reads against the propagated risk's source
           k.source as link_source
    from links k
    join link_facts f using (subject_id, source, kind)
    where f.transfers > 0
    -- an account linked to several sources keeps one link: one that opens an alert
    -- before one that does not, then the strongest by what the tie carries (a
    -- recipient's income fact apart, so a structure's participant keeps its place in the
    -- queue)
    qualify row_number() over (partition by k.subject_id
                               order by k.opening >= $threshold desc, k.score desc,
                                        k.opening desc, k.source, k.kind) = 1
)

select * from final order by subject_id
