-- notify-service's intake in one call (one round trip; `adapters/repository.py`, `take_in`): the intake's locks,
-- then one round of the intake in one statement. A function, because each statement of a VOLATILE plpgsql function
-- takes its own snapshot: the round's statement sees what a transaction holding the locks committed before they were
-- granted (a silence, another intake of the same alerts), as when the locks were a statement of their own. Called on
-- its own (`alone`), the call is the whole transaction: begin, locks, statement and commit in one round trip instead
-- of four.
--
-- Arguments: $1-$7 the round's alerts (organisation, fingerprint, status, start, JSON text, event id, event time,
-- one element per alert); $8 event ids stored only (a Clinic alert the plan does not include); $9 the channels of
-- an organisation without a plan (Basic's); $10 the grouping window (s); $11 organisations whose silences and
-- maintenance windows to report (`ruled`); $12 the dispatcher of this process that takes first notices at once,
-- or NULL; $13 its partitions; $14 its targets whose backlog is full; $15 the organisations whose intake locks to
-- take (none when the caller holds them); $16 `alone`: when an organisation of $11 has a silence or window, or an
-- alert of the round is resolved with the same start (a firing event late behind its resolved event, which needs a
-- resolved notice after the firing one: a second statement), nothing is written and one row of kind `again` is
-- returned: the caller takes the round in a transaction of its own instead.
--
-- The round's statement. The active-alert state: a later start wins (a new alert, episode 0); for the same start
-- resolved wins over firing, so a firing event that arrives late behind its resolved event does not undo it, unless
-- it happened after the resolved event: then the alert fired again with the same start (a new episode, notified at
-- once). An event whose start is not the alert's (an older one) is notified as episode 0.
--
-- One firing notice per matching, entitled subscriber, due after the grouping window ($10), of every firing event
-- but those in $8. With a dispatcher ($12) and no grouping window, a first firing notice of a target in its
-- partitions ($13) whose backlog is not full (not in $14) is inserted as being sent by it, to be handed to its
-- senders; no claim has to find it. When a notice is queued for claims, they are woken at commit.
--
-- Rows, by `kind`: `queued` (with a dispatcher), each notification inserted, or `counted` (without), how many (`n`);
-- `resolved`, each resolved notice to queue next (a resolved event, or a firing event late behind its resolved
-- event: firing, then resolved), in the round's order `n`; `ruled`, each organisation of $11 with a silence not yet
-- over or a maintenance window; `woken`, claims were woken; `again` (above).
-- The subscribers an alert goes to: its organisation's active subscribers whose project, cluster, severities and
-- rules match, found by organisation (the index subscribers_scope) alert by alert. OFFSET 0 keeps Postgres from
-- joining the other way round: with the estimates of a new database it read every active subscriber of every
-- organisation for each alert. Inlined where it is called: notify_take below, and the resolved notices' statement
-- (adapters/repository.py, INSERT_RESOLVED).
-- Arguments: the alert's organisation, project, cluster, severity and rule.
CREATE OR REPLACE FUNCTION notify_subscribers(text, text, text, text, text)
RETURNS SETOF subscribers LANGUAGE sql STABLE AS $subscribers$
    SELECT s.* FROM subscribers s
    WHERE s.org_id = $1 AND s.project_id = $2 AND s.state = 'active'
      AND (s.cluster_id IS NULL OR s.cluster_id = $3)
      AND (s.severities IS NULL OR $4 = ANY (s.severities))
      AND (s.rules IS NULL OR $5 = ANY (s.rules))
    OFFSET 0
$subscribers$;

CREATE OR REPLACE FUNCTION notify_take(
    text[], text[], text[], timestamptz[], text[], text[], timestamptz[], text[], jsonb, float8, text[],
    text, int[], text[], text[], boolean
) RETURNS TABLE (
    kind text, id bigint, subscriber_id text, org_id text, channel text, grp text, window_from timestamptz,
    part smallint, state text, fingerprint text, alert text, episode int, n bigint
) LANGUAGE plpgsql VOLATILE
-- for the call only: find rows by key (carekit.db.BY_KEY_LOCAL), and plan each statement once per connection (the
-- plan reads by key whatever the values; a new plan for each call cost 1.5-2.4 ms of planning for the same plan)
SET enable_seqscan = off
SET plan_cache_mode = force_generic_plan
AS $take$
#variable_conflict use_column
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('notify-intake:' || o, 0)),  -- adapters/mutes.py's keys
            pg_advisory_xact_lock_shared(hashtext('notify-mutes:' || o))
    FROM unnest($15) AS o;  -- in the sorted order given
    IF $16 AND (
        EXISTS (SELECT 1 FROM silences WHERE org_id = ANY ($11) AND ends_at > now())
        OR EXISTS (SELECT 1 FROM maintenance_windows WHERE org_id = ANY ($11))
        OR EXISTS (SELECT 1 FROM alerts a JOIN unnest($1, $2, $4) AS i(org_id, fingerprint, starts_at)
                     ON a.org_id = i.org_id AND a.fingerprint = i.fingerprint
                   WHERE a.status = 'resolved' AND a.starts_at = i.starts_at)
    ) THEN
        RETURN QUERY SELECT 'again', NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::text,
                            NULL::timestamptz, NULL::smallint, NULL::text, NULL::text, NULL::text, NULL::int,
                            NULL::bigint;
        RETURN;
    END IF;
    RETURN QUERY
    WITH incoming AS MATERIALIZED (  -- each alert's JSON parsed once
        SELECT t.*, t.text::jsonb AS alert
        FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::timestamptz[])
            WITH ORDINALITY AS t(org_id, fingerprint, status, starts_at, text, event_id, event_time, n)
    ), upserted AS (
        INSERT INTO alerts (org_id, fingerprint, status, starts_at, alert, event_id, event_time)
        SELECT org_id, fingerprint, status, starts_at, alert, event_id, event_time FROM incoming
        ON CONFLICT (org_id, fingerprint) DO UPDATE SET status = EXCLUDED.status, starts_at = EXCLUDED.starts_at,
            alert = EXCLUDED.alert, event_id = EXCLUDED.event_id, updated_at = now(),
            event_time = CASE WHEN alerts.starts_at = EXCLUDED.starts_at AND alerts.status = EXCLUDED.status
                              THEN GREATEST(alerts.event_time, EXCLUDED.event_time) ELSE EXCLUDED.event_time END,
            episode = CASE WHEN alerts.starts_at < EXCLUDED.starts_at THEN 0
                           WHEN alerts.status = 'resolved' AND EXCLUDED.status = 'firing' THEN alerts.episode + 1
                           ELSE alerts.episode END
        WHERE alerts.starts_at < EXCLUDED.starts_at OR (alerts.starts_at = EXCLUDED.starts_at AND (
              alerts.status = EXCLUDED.status OR EXCLUDED.status = 'resolved'
              OR EXCLUDED.event_time > alerts.event_time))
        RETURNING org_id, fingerprint, status, starts_at, episode
    ), stored AS (
        SELECT i.n, i.org_id, i.fingerprint, i.status, i.starts_at, i.text, i.alert,
               CASE WHEN COALESCE(u.starts_at, a.starts_at) = i.starts_at THEN COALESCE(u.episode, a.episode, 0)
                    ELSE 0 END AS episode,
               CASE WHEN u.org_id IS NULL AND a.status = 'resolved' AND a.starts_at = i.starts_at
                    THEN a.alert::text END AS resolved_alert
        FROM incoming i
        LEFT JOIN upserted u ON u.org_id = i.org_id AND u.fingerprint = i.fingerprint
        LEFT JOIN alerts a ON a.org_id = i.org_id AND a.fingerprint = i.fingerprint
        WHERE i.event_id <> ALL ($8::text[])
    ), i AS (
        SELECT alert, episode, org_id, alert ->> 'project_id' AS project_id, alert ->> 'cluster_id' AS cluster_id,
               fingerprint, alert ->> 'severity' AS severity, starts_at, alert ->> 'rule' AS rule
        FROM stored WHERE status = 'firing'
    ), inserted AS (
        INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,
                                   alert, next_attempt_at, window_from, part, episode, state, claimed_by)
        SELECT s.id, i.org_id, s.type,
               -- the subscriber's group (adapters/repository.py, _GROUP)
               s.id || '/' || CASE
                   WHEN s.group_by IS NULL THEN COALESCE(i.cluster_id, '')
                   WHEN s.group_by = ARRAY['...'] THEN '=' || i.fingerprint
                   ELSE COALESCE((SELECT jsonb_agg(
                       CASE g.name WHEN 'alertname' THEN i.alert ->> 'rule' WHEN 'org_id' THEN i.org_id
                           WHEN 'project_id' THEN i.project_id
                           WHEN 'source' THEN COALESCE(i.alert ->> 'source', 'platform')
                           WHEN 'cluster_id' THEN COALESCE(i.cluster_id, i.alert -> 'labels' ->> 'cluster_id')
                           ELSE COALESCE(i.alert -> 'labels' ->> g.name,
                                         CASE WHEN g.name = 'severity' THEN i.severity END) END
                       ORDER BY g.o)::text FROM unnest(s.group_by) WITH ORDINALITY AS g(name, o)), '') END,
               i.fingerprint, 'firing', i.severity, i.starts_at, i.alert,
               now() + make_interval(secs => $10), now() + make_interval(secs => $10), s.part, i.episode,
               CASE WHEN $12 IS NOT NULL AND s.part = ANY ($13) AND s.id <> ALL ($14) AND i.episode = 0
                    THEN 'sending' ELSE 'pending' END,
               CASE WHEN $12 IS NOT NULL AND s.part = ANY ($13) AND s.id <> ALL ($14) AND i.episode = 0
                    THEN $12 END
        FROM i CROSS JOIN LATERAL notify_subscribers(i.org_id, i.project_id, i.cluster_id, i.severity, i.rule) AS s
        LEFT JOIN plan_projection p ON p.org_id = s.org_id
        WHERE COALESCE(p.entitlements -> 'alert_channels', $9) ? s.type
        ON CONFLICT DO NOTHING
        RETURNING id, subscriber_id, org_id, channel, grp, window_from, part, state, fingerprint
    ), woken AS (  -- adapters/queue.py, WAKE
        SELECT pg_notify('notifications', '') FROM (SELECT FROM inserted WHERE state = 'pending' LIMIT 1) AS q
    )
    SELECT 'queued', id, subscriber_id, org_id, channel, grp, window_from, part, state, fingerprint, NULL::text,
           NULL::int, NULL::bigint
    FROM inserted WHERE $12 IS NOT NULL
    UNION ALL
    SELECT 'counted', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, count(*)
    FROM inserted HAVING $12 IS NULL
    UNION ALL
    SELECT 'resolved', NULL, NULL, org_id, NULL, NULL, NULL, NULL, NULL, fingerprint,
           CASE WHEN status = 'resolved' THEN text ELSE resolved_alert END, episode, n
    FROM stored WHERE status = 'resolved' OR resolved_alert IS NOT NULL
    UNION ALL
    SELECT 'ruled', NULL, NULL, org_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
    FROM (SELECT org_id FROM silences WHERE org_id = ANY ($11) AND ends_at > now()
          UNION SELECT org_id FROM maintenance_windows WHERE org_id = ANY ($11)) AS r
    UNION ALL
    SELECT 'woken', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM woken;
END
$take$;
