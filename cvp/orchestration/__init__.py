"""What the Prefect deployments need that is not Prefect: typed run parameters, backfill
calendars, the per-date backfill step, and the local server processes."""
