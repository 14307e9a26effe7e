#!/usr/bin/env bash
# Prerequisites of `npm test`: the Python reference (plain PyTorch and scikit-learn under Debian's
# /usr/bin/python3, not whatever python3 comes first on PATH) and the generated test models.
# Prints nothing when both are already in place, apart from what the generator prints.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=/usr/bin/python3
PACKAGES=(python3-torch python3-sklearn)

die() {
  echo "test-setup: $*" >&2
  exit 1
}

# Empty when the imports work, else the reason (the exception's last line).
import_error() {
  [[ -x $PYTHON ]] || { echo "$PYTHON does not exist"; return; }
  local output
  # Judged by the exit status: a successful import may still print warnings.
  output=$("$PYTHON" -c 'import torch, sklearn' 2>&1) || echo "${output##*$'\n'}"
}

is_debian_root() {
  [[ $(id -u) == 0 && -f /etc/debian_version ]] && command -v apt-get >/dev/null
}

# apt-get install, quietly; refreshes the package lists first when apt does not know a package.
apt_install() {
  local log
  log=$(mktemp)
  if ! apt-cache show "$@" >/dev/null 2>&1; then
    apt-get update -qq >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; die "apt-get update failed"; }
  fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    rm -f "$log"
    die "apt-get install $* failed"
  fi
  rm -f "$log"
}

reason=$(import_error)
if [[ -n $reason ]]; then
  is_debian_root || die "$PYTHON cannot import torch and sklearn ($reason). The Python reference" \
    "needs them: on Debian/Ubuntu, apt-get install ${PACKAGES[*]}; then run npm test again."
  echo "test-setup: $PYTHON cannot import torch and sklearn ($reason): installing ${PACKAGES[*]} with apt-get"
  apt_install "${PACKAGES[@]}"
  reason=$(import_error)
  [[ -z $reason ]] || die "installed ${PACKAGES[*]}, but $PYTHON still cannot import torch and sklearn ($reason)"
fi

# Does nothing (in well under a second) when the models are current: it keeps a stamp.
# libgomp's spin-waiting makes PyTorch 2-3x slower on small machines; results do not depend on it.
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE} "$PYTHON" test/reference/generate_models.py --out test/.models
