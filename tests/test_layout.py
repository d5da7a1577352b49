"""The layout every page shares: its links follow where the portal is mounted."""

from __future__ import annotations


def test_layout_links_follow_the_script_root(client):
    mounted = client.get("/login", base_url="http://localhost/portal").get_data(as_text=True)
    assert 'href="/portal/static/css/app.css"' in mounted
    assert 'href="/portal/register"' in mounted
    at_root = client.get("/login").get_data(as_text=True)
    assert 'href="/static/css/app.css"' in at_root and 'href="/register"' in at_root
