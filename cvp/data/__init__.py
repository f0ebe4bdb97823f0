"""Warehouse schema, connections, synthetic data and ingestion."""
