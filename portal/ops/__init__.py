"""Operations: health and readiness checks, JSON logs with a request id, Prometheus metrics.

`health`, `logs` and `metrics` are plain Python (no Flask): the jobs process can use them too;
`web` is the Flask side (the /healthz, /readyz and /metrics routes, the request id, the request log line).
"""
