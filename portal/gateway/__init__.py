"""The one place that talks to Stripe (real or the sandbox) through the official SDK."""
