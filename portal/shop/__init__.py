"""The shop: products managed by platform admins, bought with a saved card, stock kept right."""
