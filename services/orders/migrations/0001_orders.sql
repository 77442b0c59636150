-- A checkout is one saga run, keyed by the customer's Idempotency-Key.
CREATE TABLE checkouts (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL,
    idempotency_key text NOT NULL,
    status          text NOT NULL CHECK (status IN ('started', 'completed', 'failed')),
    order_id        uuid,
    payment_id      uuid,
    failure         jsonb,
    compensation_pending boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX checkouts_stuck ON checkouts (updated_at) WHERE status = 'started' OR compensation_pending;

CREATE TABLE orders (
    id           uuid PRIMARY KEY,
    checkout_id  uuid NOT NULL UNIQUE REFERENCES checkouts (id),
    user_id      uuid NOT NULL,
    email        text NOT NULL,
    status       text NOT NULL,
    total_minor  integer NOT NULL,
    currency     char(3) NOT NULL,
    payment_id   uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_user ON orders (user_id, created_at DESC);

CREATE TABLE order_lines (
    order_id         uuid NOT NULL REFERENCES orders (id),
    product_id       text NOT NULL,
    name             text NOT NULL,
    quantity         integer NOT NULL CHECK (quantity > 0),
    unit_price_minor integer NOT NULL,
    PRIMARY KEY (order_id, product_id)
);

-- The saga's steps as they happened, per checkout.
CREATE TABLE saga_steps (
    checkout_id uuid NOT NULL REFERENCES checkouts (id),
    seq         serial,
    step        text NOT NULL,
    outcome     text NOT NULL,
    detail      jsonb,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (checkout_id, seq)
);

-- Transactional outbox: written with the order, published by the relay with publisher confirms.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    event_id    uuid NOT NULL UNIQUE,
    event       text NOT NULL,
    checkout_id uuid NOT NULL,
    payload     jsonb NOT NULL,
    trace_context jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    sent_at     timestamptz,
    attempts    integer NOT NULL DEFAULT 0
);
CREATE INDEX outbox_pending ON outbox (id) WHERE sent_at IS NULL;
