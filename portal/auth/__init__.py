"""Accounts: register, log in and out, profile, password reset, verification, deletion."""
