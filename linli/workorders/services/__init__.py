"""Writes of the work-order engine, one module per topic: orders (raise and every state
change), service_levels (SLA classes per area), escalation (the sweep and its deliveries),
notifications (the bell)."""
