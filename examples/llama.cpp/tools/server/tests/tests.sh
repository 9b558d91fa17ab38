#!/usr/bin/env bash

# run from the directory holding this script, wherever we were called from
cd -- "$(dirname -- "${BASH_SOURCE[0]}")"

set -eu

if [ $# -lt 1 ]
then
    if [ "${SLOW_TESTS:-0}" = 1 ]; then
        pytest --durations=20 -v -x -n "${PYTEST_WORKERS:-auto}"
    else
        pytest --durations=20 -v -x -n "${PYTEST_WORKERS:-auto}" -m "not slow"
    fi
else
    pytest "$@"
fi
