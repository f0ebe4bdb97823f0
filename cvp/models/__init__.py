"""Churn and CLV models: LightGBM training, the BTYD baseline, metrics, registry."""
