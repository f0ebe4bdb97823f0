"""Contractual customers: subscriber snapshots with typed attributes, their churn model, time to
churn and contractual CLV (README, "Contractual customers")."""
