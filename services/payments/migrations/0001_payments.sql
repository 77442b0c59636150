CREATE TABLE payments (
    id              uuid PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    request_hash    text NOT NULL,
    amount_minor    integer NOT NULL CHECK (amount_minor > 0),
    currency        char(3) NOT NULL,
    card_last4      char(4) NOT NULL,
    status          text NOT NULL CHECK (status IN ('authorized', 'declined', 'voided', 'captured')),
    decline_code    text,
    reference       text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_reference ON payments (reference);
