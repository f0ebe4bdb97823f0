"""Campaign ledger: plans recorded as campaigns with a fixed arm per customer, launched as
marketing touches, measured against their control group after the outcome window."""
