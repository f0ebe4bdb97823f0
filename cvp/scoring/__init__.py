"""Batch scoring: predictions turned into the decisions a retention team acts on."""
