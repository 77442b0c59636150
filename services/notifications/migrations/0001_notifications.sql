CREATE TABLE processed_events (
    event_id     uuid PRIMARY KEY,
    event        text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE notifications (
    id         bigserial PRIMARY KEY,
    event_id   uuid NOT NULL UNIQUE REFERENCES processed_events (event_id),
    order_id   text NOT NULL UNIQUE,
    user_id    text NOT NULL,
    email      text NOT NULL,
    channel    text NOT NULL DEFAULT 'email',
    subject    text NOT NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_user ON notifications (user_id, created_at DESC);
-- The read contract users serves the inbox from.
CREATE VIEW inbox AS SELECT user_id, order_id, subject, body, created_at FROM notifications;
