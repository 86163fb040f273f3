"""Where data comes from: Prometheus-compatible stores, APMs, files and logs."""
