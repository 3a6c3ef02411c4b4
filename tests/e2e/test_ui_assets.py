"""The page's assets: all local, vendored with version and licence, content-hashed URLs."""

from __future__ import annotations

import json
import re

import requests
from e2e_helpers import Robot

from rosweb.web.ui import STATIC


def test_every_asset_is_local_and_hashed(robot: Robot, server: str) -> None:
    html = requests.get(f"{server}/", timeout=10).text
    urls = re.findall(r'(?:href|src)="([^"]+)"', html)
    assets = [u for u in urls if u.startswith("/ui/static/")]
    assert len(assets) >= 6
    for url in urls:
        assert url.startswith(("/", "#", "data:")), f"not local: {url}"
    for url in assets:
        assert re.search(r"\?v=[0-9a-f]{10}$", url), url
        response = requests.get(f"{server}{url}", timeout=10)
        assert response.status_code == 200, url
        assert "max-age=31536000" in response.headers["Cache-Control"]
    # ES modules import each other by plain URL: the import map gives every one its hash
    imports = json.loads(re.search(r'<script type="importmap">(.*?)</script>', html, re.S)[1])
    modules = sorted(f"/ui/static/js/{p.name}" for p in (STATIC / "js").glob("*.js"))
    assert sorted(imports["imports"]) == modules
    assert all(re.search(r"\?v=[0-9a-f]{10}$", v) for v in imports["imports"].values())


def test_vendored_files_carry_version_and_licence() -> None:
    vendor = STATIC / "vendor"
    for name in ("bootstrap-5.3.9.min.css", "bootstrap-5.3.9.bundle.min.js",
                 "uplot-1.6.32.min.js", "uplot-1.6.32.min.css"):  # fmt: skip
        assert (vendor / name).is_file(), name
    for package in ("bootstrap-5.3.9", "uplot-1.6.32"):
        assert "MIT License" in (vendor / f"LICENSE-{package}.txt").read_text()
    css = (vendor / "bootstrap-5.3.9.min.css").read_text()
    assert "fonts.googleapis" not in css
    assert "sourceMappingURL" not in css
