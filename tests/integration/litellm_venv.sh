#!/usr/bin/env bash
# The LiteLLM proxy of the integration suite, in a virtualenv of its own outside the repo
# (its dependency tree must not leak into the app's). Idempotent: once installed, it only prints
# the path of the `litellm` executable, which is also what it prints last after installing.
#
#   tests/integration/litellm_venv.sh            # -> ~/.cache/keybuzz/litellm-<version>/bin/litellm
#   LITELLM_VERSION=1.108.7 PYTHON=python3.11 tests/integration/litellm_venv.sh
#
# The first install downloads litellm[proxy] from PyPI (about a minute on a fast link).
# 1.108.7 is the newest release whose [proxy] extra resolves from PyPI: later ones pin
# packages PyPI does not have (1.110.2 needs litellm-proxy==1.110.2, which was never published).
set -euo pipefail

version="${LITELLM_VERSION:-1.108.7}"
python="${PYTHON:-python3}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/keybuzz"
venv="${cache}/litellm-${version}"
installed="${venv}/.installed"

if [ ! -f "${installed}" ]; then
  mkdir -p "${cache}"
  # Two runs at once (two shells, a CI retry) must not both build the same directory.
  exec 9>"${venv}.lock"
  flock --timeout 900 9
  if [ ! -f "${installed}" ]; then
    echo "installing litellm[proxy]==${version} into ${venv} (first run only)" >&2
    started=${SECONDS}
    rm -rf "${venv}"  # a half-built one from an interrupted run
    "${python}" -m venv "${venv}"
    "${venv}/bin/pip" install --quiet --disable-pip-version-check "litellm[proxy]==${version}" >&2
    LITELLM_LOCAL_MODEL_COST_MAP=True "${venv}/bin/litellm" --version >&2
    touch "${installed}"
    echo "installed in $((SECONDS - started)) s" >&2
  fi
fi
echo "${venv}/bin/litellm"
