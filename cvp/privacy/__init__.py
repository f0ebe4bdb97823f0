"""Privacy: consent as a history and the policy for absent consent (`consent`), audited exports
(`exports`), and the right to be forgotten (`erasure`).

Purposes: `marketing` (may be contacted), `profiling` (may get an individual prediction, reasons
and an action), `analytics` (may count in aggregates).
"""
