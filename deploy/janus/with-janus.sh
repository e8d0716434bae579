#!/usr/bin/env bash
# Start Janus beside a command (make run: Daphne), stop it when the command ends.
#   deploy/janus/with-janus.sh PYTHON EVENTS_URL -- COMMAND...
# Without Janus the command still runs: pages then say that audio and video are
# off and how to turn them on. On Debian/Ubuntu as root, Janus is installed first.
set -uo pipefail
python="$1"; events_url="$2"; shift 3
config_dir="${JANUS_CONFIG_DIR:-.venv/janus}"

if ! command -v janus >/dev/null 2>&1 && [ "${JANUS_ENABLED:-true}" != "false" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "media: installing Janus (apt-get install janus janus-tools ffmpeg)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q janus janus-tools ffmpeg >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q janus janus-tools ffmpeg >/dev/null; } \
      || echo "media: could not install Janus; running without audio and video"
  fi
fi

janus_pid=""
if command -v janus >/dev/null 2>&1 && [ "${JANUS_ENABLED:-true}" != "false" ]; then
  "$python" -m livemedia.janus_config --out "$config_dir" --events-url "$events_url" >/dev/null
  janus -F "$config_dir" -C "$config_dir/janus.jcfg" >"$config_dir/janus.log" 2>&1 &
  janus_pid=$!
  echo "  Janus (media) is running (pid $janus_pid, log $config_dir/janus.log)"
else
  echo "  Audio and video are OFF: Janus is not installed."
  echo "  To turn them on: sudo apt-get install -y janus janus-tools ffmpeg && make run"
fi

stop() { if [ -n "$janus_pid" ]; then kill "$janus_pid" 2>/dev/null; wait "$janus_pid" 2>/dev/null; fi; }
trap stop EXIT INT TERM
"$@"
