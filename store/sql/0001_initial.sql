-- otelwatch schema, version 1. Documented for users in docs/schema.md.
--
-- Times are integer nanoseconds since the Unix epoch; ids are lower-case hex.
-- No primary keys on the high-volume tables: exporters retry, and a duplicate must never abort a
-- group commit. The writer drops recent duplicates before inserting.
-- `attributes` keeps every attribute under its original key; the promoted columns repeat the
-- ones that panels group and filter on. The JSON columns use ZSTD: on Claude-Code-shaped spans it
-- stores the full attribute JSON in ~42 MiB per million spans, against ~268 MiB with the default
-- dictionary/FSST compression (see docs/schema.md).

CREATE TABLE resources (
    resource_id    VARCHAR NOT NULL,
    service_name   VARCHAR,
    attributes     JSON USING COMPRESSION zstd,
    first_seen_ns  BIGINT NOT NULL
);

CREATE TABLE spans (
    trace_id        VARCHAR NOT NULL,
    span_id         VARCHAR NOT NULL,
    parent_span_id  VARCHAR,
    trace_state     VARCHAR,
    resource_id     VARCHAR NOT NULL,
    service_name    VARCHAR,
    scope_name      VARCHAR,
    scope_version   VARCHAR,
    name            VARCHAR NOT NULL,
    kind            VARCHAR NOT NULL,
    start_ns        BIGINT NOT NULL,
    end_ns          BIGINT NOT NULL,
    duration_ns     BIGINT NOT NULL,
    status_code     VARCHAR NOT NULL,
    status_message  VARCHAR,
    session_id      VARCHAR,
    span_type       VARCHAR,
    model           VARCHAR,
    tool_name       VARCHAR,
    attributes      JSON USING COMPRESSION zstd,
    events          JSON USING COMPRESSION zstd,
    links           JSON USING COMPRESSION zstd,
    received_ns     BIGINT NOT NULL
);

CREATE TABLE log_events (
    time_ns                BIGINT NOT NULL,
    observed_ns            BIGINT NOT NULL,
    received_ns            BIGINT NOT NULL,
    resource_id            VARCHAR NOT NULL,
    service_name           VARCHAR,
    scope_name             VARCHAR,
    session_id             VARCHAR,
    prompt_id              VARCHAR,
    event_name             VARCHAR,
    severity_number        INTEGER NOT NULL,
    severity_text          VARCHAR,
    body                   VARCHAR USING COMPRESSION zstd,
    trace_id               VARCHAR,
    span_id                VARCHAR,
    model                  VARCHAR,
    tool_name              VARCHAR,
    cost_usd               DOUBLE,
    duration_ms            DOUBLE,
    input_tokens           BIGINT,
    output_tokens          BIGINT,
    cache_read_tokens      BIGINT,
    cache_creation_tokens  BIGINT,
    success                BOOLEAN,
    decision               VARCHAR,
    event_sequence         BIGINT,
    attributes             JSON USING COMPRESSION zstd
);

CREATE TABLE metric_points (
    metric_name      VARCHAR NOT NULL,
    metric_type      VARCHAR NOT NULL,
    unit             VARCHAR,
    temporality      VARCHAR,
    is_monotonic     BOOLEAN,
    resource_id      VARCHAR NOT NULL,
    service_name     VARCHAR,
    scope_name       VARCHAR,
    session_id       VARCHAR,
    model            VARCHAR,
    "type"           VARCHAR,
    series_key       VARCHAR NOT NULL,
    attributes       JSON USING COMPRESSION zstd,
    start_ns         BIGINT NOT NULL,
    time_ns          BIGINT NOT NULL,
    value            DOUBLE,
    -- `increase` is what the point adds to the series: the value itself for DELTA sums, the
    -- growth since the previous point of the same run for CUMULATIVE sums (a new start time or a
    -- drop in value starts a new run). Every total is SUM(increase), whatever the temporality.
    increase         DOUBLE,
    count            BIGINT,
    sum              DOUBLE,
    min              DOUBLE,
    max              DOUBLE,
    bucket_counts    BIGINT[],
    explicit_bounds  DOUBLE[],
    detail           JSON,
    received_ns      BIGINT NOT NULL
);
