#!/usr/bin/env bash
# Run a command with the settings of .env, where the environment's own values win:
# `AMQP_URI=... make run` uses that AMQP_URI whatever .env says.
set -euo pipefail
if [ -f .env ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
    name=${BASH_REMATCH[2]} value=${BASH_REMATCH[3]}
    [[ -v $name ]] && continue
    # One pair of surrounding quotes is the value's, not part of it.
    if [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
    export "$name=$value"
  done < .env
fi
exec "$@"
