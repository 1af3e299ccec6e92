#!/usr/bin/env bash
# Debian's chromium, the headless browser the web page's tests drive through playwright-core. Debian's build
# rather than playwright's downloaded one: the bed reaches only the package registries, and playwright's
# browser CDN is not one of them. Prints BERTH_CHROMIUM=<path>.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

chromium_bin="/usr/bin/chromium"
if [ -x "$chromium_bin" ]; then
  log "chromium already installed at $chromium_bin"
else
  # fonts-liberation: without any font, every glyph renders as a box and screenshots say nothing.
  apt_install chromium fonts-liberation
fi
# A broken install (a missing shared library) fails here, not in the middle of a test.
version="$("$chromium_bin" --version 2>/dev/null)" || die "$chromium_bin does not run: $("$chromium_bin" --version 2>&1 | tail -n 3)"
log "$version"
echo "BERTH_CHROMIUM=$chromium_bin"
