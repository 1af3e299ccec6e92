#!/usr/bin/env bash
# The real `runpod` Python package (client and worker SDK) from PyPI, in a virtual environment cached in
# $BERTH_CACHE/python-runpod-<version>. Prints the environment's python to use.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

venv="$BERTH_CACHE/python-runpod-$RUNPOD_PYTHON_VERSION"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import runpod, sys; sys.exit(runpod.__version__ != '$RUNPOD_PYTHON_VERSION')" 2>/dev/null; then
  log "runpod $RUNPOD_PYTHON_VERSION cached in $venv"
else
  command -v python3 >/dev/null || apt_install python3 python3-venv
  log "installing runpod==$RUNPOD_PYTHON_VERSION from PyPI into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "runpod==$RUNPOD_PYTHON_VERSION" >&2
fi
echo "$venv/bin/python"
