"""orders: the checkout saga coordinator, with a transactional outbox relayed to RabbitMQ."""
