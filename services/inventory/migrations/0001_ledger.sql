CREATE TABLE processed_events (
    event_id     uuid PRIMARY KEY,
    event        text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE stock_ledger (
    event_id   uuid NOT NULL REFERENCES processed_events (event_id),
    order_id   text NOT NULL,
    product_id text NOT NULL,
    quantity   integer NOT NULL CHECK (quantity > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, product_id)
);
CREATE INDEX stock_ledger_product ON stock_ledger (product_id);
-- The read contract products serves stock from: units committed per product.
CREATE VIEW stock_committed AS
    SELECT product_id, sum(quantity)::bigint AS committed FROM stock_ledger GROUP BY product_id;
