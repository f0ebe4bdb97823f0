"""Experiment tracking: MLflow setup shared by every job."""
