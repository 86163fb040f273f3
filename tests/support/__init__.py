"""What the tests share: free ports, CI-aware skipping, one canned HTTP server, real servers.

- :mod:`support.ci` — ``IN_CI``, :func:`~support.ci.unavailable` (skip here, fail under
  ``CI=true``), :func:`~support.ci.need_binary`, :func:`~support.ci.find_tool`;
- :mod:`support.net` — :func:`~support.net.free_port`, :func:`~support.net.free_ports`,
  :func:`~support.net.wait_for_port`, :func:`~support.net.stop`;
- :mod:`support.http` — :class:`~support.http.CannedServer`: a real loopback HTTP(S) server
  answering from routes, rules or a queue, recording every request;
- :mod:`support.servers` — Redis, FerretDB, Prometheus and moto S3 started with the sandbox's
  own launch functions.
"""
