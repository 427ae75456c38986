"""Who may do what: facilitator accounts, logins and rate limits."""
