-- Every pull configuration with its stations, in one round trip and a stable order
-- (the DAG factory's only query; docs/architecture.md#dag-factory). A configuration without stations still
-- appears once, with NULL station columns. The config_id parameter limits the read to one
-- configuration (a worker building only the DAG it runs); NULL reads them all.
SELECT
    c.id              AS id,
    c.name            AS name,
    c.description     AS description,
    c.data_type       AS data_type,
    c.data_strategy   AS data_strategy,
    c.pull_start_date AS pull_start_date,
    c.is_enabled      AS is_enabled,
    c.schedule_type   AS schedule_type,
    c.schedule_value  AS schedule_value,
    s.station_number  AS station_number,
    s.station_name    AS station_name,
    s.agency          AS agency
FROM pull_configurations AS c
LEFT OUTER JOIN pull_configuration_stations AS s ON s.config_id = c.id
WHERE CAST(:config_id AS INTEGER) IS NULL OR c.id = CAST(:config_id AS INTEGER)
ORDER BY c.id, s.id
