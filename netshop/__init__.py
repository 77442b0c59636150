"""NetShop tooling: the `netshop` CLI and the single writer that owns `generated/`."""
