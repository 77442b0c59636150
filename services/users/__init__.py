"""users: customer profiles, and the notification inbox read from the notifications worker's contract view."""
