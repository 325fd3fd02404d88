-- The intake's one call, `notify_take` (009), as `notify_take_by_partition`: it inserts the notices it may hand
-- straight to a dispatcher as being sent by the dispatcher that holds each one's partition. $12 is now the
-- dispatchers, one for each partition in $13 (empty: the intake hands nothing, every notice is queued for claims and
-- counted). In `notify_take`, $12 was one dispatcher for all of $13, so a process could hand its rows either to its
-- own dispatcher or to one in another process (adapters/handoff.py), never to both: a process that delivers beside a
-- dispatcher process of the same machine now hands each row to whichever of the two holds its partition
-- (services/notify-service/README.md, pipeline step 3). Otherwise as in 009. A new name rather than a new signature
-- of the old one: with both signatures a call whose $12 has no type yet would be ambiguous, and `notify_take` stays
-- for processes of the previous version while an upgrade rolls out (migrations add, never destroy).
CREATE OR REPLACE FUNCTION notify_take_by_partition(
    text[], text[], text[], timestamptz[], text[], text[], timestamptz[], text[], jsonb, float8, text[],
    text[], int[], text[], text[], boolean
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
        OR EXISTS (SELECT 1 FROM unnest($1, $2, $4) AS i(org_id, fingerprint, starts_at)
                   CROSS JOIN LATERAL (SELECT 1 FROM alerts a
                                       WHERE a.org_id = i.org_id AND a.fingerprint = i.fingerprint
                                         AND a.status = 'resolved' AND a.starts_at = i.starts_at OFFSET 0) AS a)
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
        LEFT JOIN LATERAL (SELECT a.starts_at, a.episode, a.status, a.alert FROM alerts a
                           WHERE a.org_id = i.org_id AND a.fingerprint = i.fingerprint OFFSET 0) AS a ON true
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
               CASE WHEN s.part = ANY ($13) AND s.id <> ALL ($14) AND i.episode = 0
                    THEN 'sending' ELSE 'pending' END,
               CASE WHEN s.part = ANY ($13) AND s.id <> ALL ($14) AND i.episode = 0
                    THEN $12[array_position($13, s.part)] END
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
    FROM inserted WHERE cardinality($12) > 0
    UNION ALL
    SELECT 'counted', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, count(*)
    FROM inserted HAVING cardinality($12) = 0
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
