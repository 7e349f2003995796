-- Per-session totals kept by the writer (store/rollups.py, which documents every column): the
-- Overview's totals and the Sessions list read ~10,000 rows here instead of aggregating a million
-- (docs/benchmarks.md, "Queries at a million rows"). One row per (session_id, model); NULL in
-- either means the items had none. The writer adds each commit's rows in the same transaction,
-- retention recomputes the sessions it deletes from. This fills it for an existing database,
-- with the same aggregate as store/rollups.py (tests/test_rollups.py checks they agree).

CREATE TABLE session_rollup (
    session_id         VARCHAR,
    model              VARCHAR,
    service_name       VARCHAR,
    first_ns           BIGINT,
    ev_first_ns        BIGINT,
    mp_first_ns        BIGINT,
    last_ns            BIGINT,
    ev_last_ns         BIGINT,
    mp_last_ns         BIGINT,
    requests           BIGINT NOT NULL,
    ev_cost            DOUBLE NOT NULL,
    ev_input           BIGINT NOT NULL,
    ev_output          BIGINT NOT NULL,
    ev_cache_read      BIGINT NOT NULL,
    ev_cache_creation  BIGINT NOT NULL,
    mp_points          BIGINT NOT NULL,
    mp_cost            DOUBLE NOT NULL,
    mp_input           DOUBLE NOT NULL,
    mp_output          DOUBLE NOT NULL,
    mp_cache_read      DOUBLE NOT NULL,
    mp_cache_creation  DOUBLE NOT NULL,
    prompts            BIGINT NOT NULL,
    tool_calls         BIGINT NOT NULL,
    tool_failures      BIGINT NOT NULL,
    api_errors         BIGINT NOT NULL,
    retries_exhausted  BIGINT NOT NULL,
    refusals           BIGINT NOT NULL,
    interactions       BIGINT NOT NULL,
    lines_added        DOUBLE NOT NULL,
    lines_removed      DOUBLE NOT NULL,
    commits            DOUBLE NOT NULL,
    pull_requests      DOUBLE NOT NULL,
    active_user_s      DOUBLE NOT NULL,
    active_cli_s       DOUBLE NOT NULL
);

INSERT INTO session_rollup (session_id, model, service_name, first_ns, ev_first_ns, mp_first_ns, last_ns, ev_last_ns, mp_last_ns, requests, ev_cost, ev_input, ev_output, ev_cache_read, ev_cache_creation, mp_points, mp_cost, mp_input, mp_output, mp_cache_read, mp_cache_creation, prompts, tool_calls, tool_failures, api_errors, retries_exhausted, refusals, interactions, lines_added, lines_removed, commits, pull_requests, active_user_s, active_cli_s)
SELECT session_id, model, any_value(service_name) AS service_name,
       min(first_ns) AS first_ns, min(ev_first_ns) AS ev_first_ns,
       min(mp_first_ns) AS mp_first_ns,
       max(last_ns) AS last_ns, max(ev_last_ns) AS ev_last_ns, max(mp_last_ns) AS mp_last_ns,
       coalesce(sum(requests), 0) AS requests, coalesce(sum(ev_cost), 0) AS ev_cost, coalesce(sum(ev_input), 0) AS ev_input, coalesce(sum(ev_output), 0) AS ev_output, coalesce(sum(ev_cache_read), 0) AS ev_cache_read, coalesce(sum(ev_cache_creation), 0) AS ev_cache_creation, coalesce(sum(mp_points), 0) AS mp_points, coalesce(sum(mp_cost), 0) AS mp_cost, coalesce(sum(mp_input), 0) AS mp_input, coalesce(sum(mp_output), 0) AS mp_output, coalesce(sum(mp_cache_read), 0) AS mp_cache_read, coalesce(sum(mp_cache_creation), 0) AS mp_cache_creation, coalesce(sum(prompts), 0) AS prompts, coalesce(sum(tool_calls), 0) AS tool_calls, coalesce(sum(tool_failures), 0) AS tool_failures, coalesce(sum(api_errors), 0) AS api_errors, coalesce(sum(retries_exhausted), 0) AS retries_exhausted, coalesce(sum(refusals), 0) AS refusals, coalesce(sum(interactions), 0) AS interactions, coalesce(sum(lines_added), 0) AS lines_added, coalesce(sum(lines_removed), 0) AS lines_removed, coalesce(sum(commits), 0) AS commits, coalesce(sum(pull_requests), 0) AS pull_requests, coalesce(sum(active_user_s), 0) AS active_user_s, coalesce(sum(active_cli_s), 0) AS active_cli_s
FROM (
    SELECT session_id, model, any_value(service_name) AS service_name,
           min(time_ns) AS first_ns, max(time_ns) AS last_ns,
           min(time_ns) FILTER (WHERE event_name = 'api_request') AS ev_first_ns,
           max(time_ns) FILTER (WHERE event_name = 'api_request') AS ev_last_ns,
           count(*) FILTER (WHERE event_name = 'api_request') AS requests,
           coalesce(sum(cost_usd) FILTER (WHERE event_name = 'api_request'), 0) AS ev_cost,
           coalesce(sum(input_tokens) FILTER (WHERE event_name = 'api_request'), 0) AS ev_input,
           coalesce(sum(output_tokens) FILTER (WHERE event_name = 'api_request'), 0)
               AS ev_output,
           coalesce(sum(cache_read_tokens) FILTER (WHERE event_name = 'api_request'), 0)
               AS ev_cache_read,
           coalesce(sum(cache_creation_tokens) FILTER (WHERE event_name = 'api_request'), 0)
               AS ev_cache_creation,
           count(*) FILTER (WHERE event_name = 'user_prompt') AS prompts,
           count(*) FILTER (WHERE event_name = 'tool_result') AS tool_calls,
           count(*) FILTER (WHERE event_name = 'tool_result' AND success = FALSE)
               AS tool_failures,
           count(*) FILTER (WHERE event_name = 'api_error') AS api_errors,
           count(*) FILTER (WHERE event_name = 'api_retries_exhausted') AS retries_exhausted,
           count(*) FILTER (WHERE event_name = 'api_refusal') AS refusals
    FROM log_events WHERE TRUE
    GROUP BY session_id, model
    UNION ALL BY NAME
    SELECT session_id, model, any_value(service_name) AS service_name,
           min(time_ns) AS first_ns, max(time_ns) AS last_ns,
           min(time_ns) FILTER (WHERE metric_name IN ('claude_code.cost.usage', 'claude_code.token.usage'))
               AS mp_first_ns,
           max(time_ns) FILTER (WHERE metric_name IN ('claude_code.cost.usage', 'claude_code.token.usage'))
               AS mp_last_ns,
           count(*) FILTER (WHERE metric_name IN ('claude_code.cost.usage', 'claude_code.token.usage'))
               AS mp_points,
           coalesce(sum(increase) FILTER (WHERE metric_name = 'claude_code.cost.usage'), 0) AS mp_cost,
           coalesce(sum(increase) FILTER (WHERE metric_name = 'claude_code.token.usage' AND "type" = 'input'), 0) AS mp_input, coalesce(sum(increase) FILTER (WHERE metric_name = 'claude_code.token.usage' AND "type" = 'output'), 0) AS mp_output,
           coalesce(sum(increase) FILTER (WHERE metric_name = 'claude_code.token.usage' AND "type" = 'cacheRead'), 0) AS mp_cache_read,
           coalesce(sum(increase) FILTER (WHERE metric_name = 'claude_code.token.usage' AND "type" = 'cacheCreation'), 0) AS mp_cache_creation,
           coalesce(sum(increase) FILTER (WHERE metric_name = 'claude_code.lines_of_code.count' AND "type" = 'added'), 0) AS lines_added,
           coalesce(sum(increase) FILTER (WHERE metric_name = 'claude_code.lines_of_code.count' AND "type" = 'removed'), 0) AS lines_removed,
           coalesce(sum(increase) FILTER (WHERE metric_name = 'claude_code.commit.count'), 0) AS commits, coalesce(sum(increase) FILTER (WHERE metric_name = 'claude_code.pull_request.count'), 0) AS pull_requests,
           coalesce(sum(increase) FILTER (WHERE metric_name = 'claude_code.active_time.total' AND "type" = 'user'), 0) AS active_user_s,
           coalesce(sum(increase) FILTER (WHERE metric_name = 'claude_code.active_time.total' AND "type" = 'cli'), 0) AS active_cli_s
    FROM metric_points WHERE TRUE
    GROUP BY session_id, model
    UNION ALL BY NAME
    SELECT session_id, NULL::VARCHAR AS model, any_value(service_name) AS service_name,
           min(start_ns) AS first_ns, max(end_ns) AS last_ns,
           count(*) FILTER (WHERE span_type = 'interaction') AS interactions
    FROM spans WHERE TRUE
    GROUP BY session_id
)
GROUP BY session_id, model;
