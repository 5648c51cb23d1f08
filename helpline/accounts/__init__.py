"""Staff accounts: roles, sign-in with a second factor, lockout, and the access gate for staff pages."""
