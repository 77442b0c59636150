"""payments: authorise, void and capture with idempotency keys; declines follow documented test cards."""
