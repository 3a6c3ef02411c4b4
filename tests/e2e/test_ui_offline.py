"""The page with the server gone: one connection state (the badge, one toast, not a pile),
stale battery, odometry and map greyed with their age; and everything back when it returns."""

from __future__ import annotations

import contextlib
import re

import pytest
from e2e_helpers import ARTIFACTS, DESKTOP, PHONE, goto, open_page, serve_rosweb
from playwright.sync_api import Browser, expect


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "laptop"])
def test_offline_shows_one_state_and_stale_values(browser: Browser, viewport: dict[str, int]
                                                  ) -> None:  # fmt: skip
    size = f"{viewport['width']}x{viewport['height']}"
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(serve_rosweb({}, f"rosweb-offline-{size}.log"))
        page, problems = open_page(browser, server, viewport)
        try:
            goto(page, server, "watch")
            expect(page.locator("#battery-percent")).to_have_text(re.compile(r"^\d+%$"))
            expect(page.locator("#battery-card")).to_have_attribute("data-stale", "false")
            page.evaluate("""() => {
                window.toastsMade = [];
                new MutationObserver((records) => records.forEach((r) => r.addedNodes.forEach(
                    (n) => window.toastsMade.push(n.textContent)))).observe(
                    document.getElementById("toasts"), { childList: true });
            }""")
            stack.close()  # the server stops
            badge = page.locator("#connection")
            expect(badge).not_to_have_attribute("data-state", "open")
            expect(page.locator("#toasts")).to_contain_text("Connection to the robot lost")
            page.wait_for_timeout(8000)  # several reconnection attempts fail meanwhile
            made = page.evaluate("() => window.toastsMade")
            assert made == ["Connection to the robot lost: reconnecting"], made
            for card in ("#battery-card", "#odom-card"):
                expect(page.locator(card)).to_have_attribute("data-stale", "true")
                expect(page.locator(f"{card} [data-age]")).to_contain_text(
                    re.compile(r"offline · \d+ s ago")
                )
            expect(page.locator("[data-map=watch]")).to_have_attribute("data-stale", "true")
            expect(badge).to_contain_text("offline")
            page.evaluate("() => window.scrollTo(0, 0)")
            page.screenshot(path=ARTIFACTS / f"offline-{size}.png", full_page=True)
        finally:
            page.context.close()
    # the page's failed requests to the stopped server are what it shows, not errors of its own
    unexpected = [e for e in problems.errors if "ERR_CONNECTION_REFUSED" not in e
                  and "Failed to load resource" not in e]  # fmt: skip
    assert not unexpected, unexpected
