-- The Prefect server and the MLflow tracking server each keep their own database beside the
-- warehouse (cvp_warehouse, created by the image from POSTGRES_DB).
CREATE DATABASE cvp_prefect OWNER cvp;
CREATE DATABASE cvp_mlflow OWNER cvp;
