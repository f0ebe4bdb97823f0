"""Data validation with Great Expectations: suites, checkpoints, results and the gate."""
