CREATE TABLE reviews (
    id          uuid PRIMARY KEY,
    product_id  text NOT NULL,
    user_id     uuid NOT NULL,
    author      text NOT NULL,
    rating      smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    title       text NOT NULL,
    body        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (product_id, user_id)
);
CREATE INDEX reviews_product ON reviews (product_id, created_at DESC);
CREATE TABLE ratings (
    product_id text PRIMARY KEY,
    count      integer NOT NULL,
    total      integer NOT NULL
);
