"""Where the workbook talks to the outside: one edge per kind, retries and errors handled once.

- :mod:`~sreworkbook.edges.retry` — the retry policy (backoff with jitter, ``Retry-After`` cap,
  total deadline), :class:`~sreworkbook.edges.retry.Deadline` and the per-endpoint
  :class:`~sreworkbook.edges.retry.Breaker`;
- :mod:`~sreworkbook.edges.http` — every HTTP call to a service (metrics sources, notifiers,
  health probes): timeouts, auth, retries, and each ``requests`` error as a ``SourceError``;
- :mod:`~sreworkbook.edges.s3` — ``s3://`` URLs, clients (credential chain, ``endpoint_url``),
  listing and streaming reads, and each botocore error as a workbook error.
"""

__all__: list[str] = []
