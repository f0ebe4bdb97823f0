"""Plots and summaries attached to runs."""
