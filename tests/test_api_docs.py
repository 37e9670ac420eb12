"""The API docs page works without internet: Swagger UI comes from our own static files."""
import re

from django.contrib.staticfiles import finders


def test_swagger_ui_is_served_locally(client, db):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', html)
    assert any("swagger-ui-bundle" in a for a in assets), assets
    for asset in assets:
        assert not asset.startswith(("http:", "https:", "//")), f"{asset} would need internet"
        path = asset.split("/static/", 1)[1]
        assert finders.find(path), f"{path} is not among the static files"
