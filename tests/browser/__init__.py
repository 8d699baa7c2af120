"""Stories told through a real browser: Playwright driving Debian's Chromium."""
