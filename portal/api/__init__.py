"""The JSON API of the source guide: bearer tokens, a success/error envelope."""
