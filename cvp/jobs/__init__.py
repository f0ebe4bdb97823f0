"""Job entry points: plain functions the Prefect flows and the CLI call. Each one touches the
warehouse, records an audit row and logs an MLflow run; none imports Prefect."""
