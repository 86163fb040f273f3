"""Where data comes from: Prometheus-compatible stores, APMs, files and logs."""

__all__: list[str] = []
