# Shared by .ci/setup-report and .ci/setup (sourced, not run).

# apt_install COMMAND:PACKAGE ...: install each PACKAGE whose COMMAND is missing (root and apt-get only).
apt_install() {
  local need=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
  done
  [ ${#need[@]} -gt 0 ] || return 0
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "setup: ${need[*]} missing and cannot be installed here (needs root and apt-get)" >&2
  fi
}

# venv_install EXTRAS: layershare (editable) in .venv, with EXTRAS ("" or "[dev]"); again only when
# pyproject.toml changed. A venv set up for the tests serves a report too.
venv_install() {
  local extras=$1 stamp=.venv/.installed${1:+-dev}
  if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
  fi
  for done in "$stamp" .venv/.installed-dev; do
    if [ -f "$done" ] && [ ! pyproject.toml -nt "$done" ]; then return 0; fi
  done
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".$extras"
  touch "$stamp"
}
