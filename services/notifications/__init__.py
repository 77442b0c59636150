"""notifications: records one order-confirmation message per order."""
