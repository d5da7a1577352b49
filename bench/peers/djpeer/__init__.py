"""A Django project with only dj-stripe's webhook view, the peer
the portal's webhook ingest is compared with."""
