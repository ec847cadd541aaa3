#!/usr/bin/env bash
# Installs what driverseat needs on a Debian/Ubuntu machine, and nothing that is there already:
#   - Debian packages: Xvfb (a virtual display), xinput/xdotool/x11-utils (device setup and
#     a foreign injector for tests), scrot/imagemagick (the reference screenshot path in
#     bench/), Qt's xcb libraries and a font (the overlay), a session D-Bus and the AT-SPI
#     accessibility bus (capture.a11y names elements from it) and zenity (real GTK dialogs
#     for its tests) and chromium (renders `driverseat report` headless in its test, and
#     runs the live view's page in its tests), x11vnc and novnc (`serve --view`: the VNC
#     server and the browser's VNC client, served by the daemon: nothing is fetched at run time);
#   - a virtualenv ($VENV, default .venv) with the project installed editable, extras $EXTRAS.
# Uses sudo for apt-get when not root. Safe to run again: it only acts on what is missing.
set -euo pipefail

VENV=${VENV:-.venv}
EXTRAS=${EXTRAS:-test}
PYTHON=${PYTHON:-python3}

DEB_PACKAGES=(
  xvfb xinput xdotool x11-utils x11-xserver-utils
  scrot imagemagick
  libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
  libxcb-render-util0 libxcb-xinerama0 libxcb-xkb1 libxcb-shape0 libxcb-randr0
  libegl1 libgl1 libfontconfig1 libdbus-1-3 fonts-dejavu-core
  dbus at-spi2-core zenity
  chromium x11vnc novnc
)

say() { printf 'driverseat: %s\n' "$*" >&2; }

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    missing+=(python3-venv python3-pip)
  fi
  if ! command -v "$PYTHON" >/dev/null 2>&1; then
    missing+=(python3 python3-venv python3-pip)
  fi
else
  say "not a Debian system: install Xvfb, xinput, xdotool and Qt's xcb libraries yourself"
fi

if ((${#missing[@]})); then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { say "need root or sudo to apt-get install: ${missing[*]}"; exit 1; }
    SUDO=sudo
  fi
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  say "driverseat needs Python >= 3.11 (found $("$PYTHON" --version 2>&1)); set PYTHON=..."
  exit 1
fi

stamp="$VENV/.driverseat-installed-$EXTRAS"
if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "installing driverseat[$EXTRAS] into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install -q -e ".[$EXTRAS]"
  if [ "$EXTRAS" = test ] || [ "$EXTRAS" = dev ]; then
    # test-only: TRL's dataset functions check the exports; --no-deps keeps torch out
    "$VENV/bin/python" -m pip install -q --no-deps "trl>=1.16,<2"
  fi
  rm -f "$VENV"/.driverseat-installed-*
  touch "$stamp"
fi
