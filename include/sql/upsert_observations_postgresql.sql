-- Merge the staged rows (COPYed into _streamflow_obs_stage) into discharge_observations.
-- A revised value or quality code replaces the stored one; identical rows are not rewritten
-- (no dead tuples, and the returned count is the rows really written).
INSERT INTO discharge_observations AS d (station_id, observed_at, discharge, unit, type, quality_code)
SELECT station_id, observed_at, discharge, unit, type, quality_code
FROM _streamflow_obs_stage
ON CONFLICT (station_id, observed_at, type) DO UPDATE
SET discharge = EXCLUDED.discharge,
    unit = EXCLUDED.unit,
    quality_code = EXCLUDED.quality_code
WHERE (d.discharge, d.unit, d.quality_code) IS DISTINCT FROM
      (EXCLUDED.discharge, EXCLUDED.unit, EXCLUDED.quality_code)
