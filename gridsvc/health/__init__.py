"""Liveness for load balancers and service managers: GET /healthz."""
