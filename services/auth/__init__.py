"""auth: the identity authority. Registration, login with rate-limited failures, and short-lived HS256 JWTs."""
