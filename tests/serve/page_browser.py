"""Debian's chromium driven by Playwright for the page's tests: launch (or the reason it cannot), and checks run in the page.

Playwright is given Debian's own browser (``executable_path``); it never downloads one. The checks below run
inside the page (labels, contrast) and an init script records CSP violations and every progress text shown.
"""

from __future__ import annotations

import shutil

# Runs before the page's own scripts, outside its CSP (Playwright injects it): records CSP violations and the
# progress texts the page shows while a request runs.
RECORDER = """
window.__csp = []; window.__progress = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
document.addEventListener('DOMContentLoaded', () => {
  const box = document.getElementById('progress-box');
  if (!box) return;
  new MutationObserver(() => { if (!box.hidden) window.__progress.push(box.textContent.trim()); })
    .observe(box, {attributes: true, childList: true, subtree: true, characterData: true});
});
"""

# Every visible input and button with no accessible name (a <label>, aria-label or its own text).
UNLABELLED = """() => [...document.querySelectorAll('input, button, select, textarea')]
  .filter(e => e.type !== 'hidden' && e.offsetParent !== null)
  .filter(e => !((e.labels && e.labels.length) || e.getAttribute('aria-label') || (e.tagName === 'BUTTON' && e.textContent.trim())))
  .map(e => e.id || e.outerHTML.slice(0, 80))"""

# The lowest WCAG contrast ratio of any visible text against the first opaque background behind it.
MIN_CONTRAST = """() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => { const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
                                return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = e => { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor);
                             if (c.length === 3 || c[3] > 0.99) return c.slice(0, 3); } return [255, 255, 255]; };
  let worst = {ratio: 99, text: ''};
  for (const e of document.querySelectorAll('body *')) {
    const own = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || e.offsetParent === null && getComputedStyle(e).position !== 'fixed') continue;
    const a = lum(rgb(getComputedStyle(e).color).slice(0, 3)), b = lum(background(e));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < worst.ratio) worst = {ratio, text: e.textContent.trim().slice(0, 60)};
  }
  return worst;
}"""


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def why_no_browser() -> str | None:
    """None when Playwright and Debian's chromium are both here; else the reason the browser tests skip."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install 'creative4u-small[test]')"
    if chromium_path() is None:
        return "Debian's chromium is not installed (make test installs it with apt-get, which was unavailable or failed here)"
    return None
