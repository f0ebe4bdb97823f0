"""Watching the models after training: realised accuracy, drift, KPIs, fairness, and the
decision to retrain."""
