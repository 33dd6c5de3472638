# Sourced by the test scripts: installing what a suite needs on a fresh
# Debian machine, as root or with sudo. One copy, so every script installs
# the same way.

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    printf 'need root (or sudo) to run: %s\n' "$*" >&2
    exit 1
  fi
}

# apt_install PKG...: `apt-get update` only when the package lists do not
# know a package yet (a fresh machine), so a warm run never touches the
# network.
apt_install() {
  local pkg
  for pkg in "$@"; do
    if ! apt-cache show "$pkg" >/dev/null 2>&1; then
      as_root apt-get update -qq
      break
    fi
  done
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# need_command CMD PKG: installs PKG when CMD is not on the PATH.
need_command() {
  command -v "$1" >/dev/null 2>&1 || apt_install "$2"
}
