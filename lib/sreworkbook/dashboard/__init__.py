"""The metrics dashboard: panels from any metrics backend, SLOs, period comparison."""
