CREATE TABLE products (
    id            text PRIMARY KEY,
    name          text NOT NULL,
    category      text NOT NULL,
    price_minor   integer NOT NULL CHECK (price_minor >= 0),
    currency      char(3) NOT NULL,
    description   text NOT NULL,
    tags          text[] NOT NULL DEFAULT '{}',
    initial_stock integer NOT NULL CHECK (initial_stock >= 0),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_category_price ON products (category, price_minor);
