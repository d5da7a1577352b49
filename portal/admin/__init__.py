"""Platform admin pages: the webhook event log (and, later, practices and reconciliation)."""
