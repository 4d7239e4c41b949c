"""Aggregation and reports of stored runs: ``summary.json``, text tables, a static HTML report and plots."""
