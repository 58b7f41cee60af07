#!/usr/bin/env bash
# Installs what the browser suite needs for each engine named in $1 (comma-separated;
# default chromium,firefox,webkit), only what is missing. Debian packages through
# scripts/apt-ensure.sh; geckodriver from crates.io (Selenium's driver download cannot work
# without internet, and Debian has no geckodriver package).
set -euo pipefail
cd "$(dirname "$0")/.."
GECKODRIVER_VERSION=${GECKODRIVER_VERSION:-0.37.1}
MINIBROWSER=${MINIBROWSER_BIN:-/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser}
IFS=, read -ra engines <<< "${1:-chromium,firefox,webkit}"
for engine in "${engines[@]}"; do
  case "$engine" in
    chromium) scripts/apt-ensure.sh chromium:chromium chromedriver:chromium-driver ;;
    firefox)
      scripts/apt-ensure.sh firefox-esr:firefox-esr
      if ! command -v geckodriver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/geckodriver" ]; then
        echo "building geckodriver $GECKODRIVER_VERSION from crates.io (a few minutes)" >&2
        cargo install --locked --quiet geckodriver --version "$GECKODRIVER_VERSION"
      fi ;;
    webkit)
      # webkit2gtk-driver depends on libwebkit2gtk-4.1-0, which ships MiniBrowser.
      scripts/apt-ensure.sh WebKitWebDriver:webkit2gtk-driver Xvfb:xvfb
      [ -x "$MINIBROWSER" ] || { echo "MiniBrowser not at $MINIBROWSER (dpkg -L libwebkit2gtk-4.1-0)" >&2; exit 1; } ;;
    *) echo "unknown engine '$engine' (chromium, firefox, webkit)" >&2; exit 2 ;;
  esac
done
