#!/usr/bin/env bash
# Runs aha-studio under Xvfb (a real X server, not the offscreen platform), starts a
# preset (default quickstart) for about a minute, and saves a screenshot of every view:
# the studio's own grab of each tab, plus one of the whole X screen by ImageMagick.
# Usage: tests/studio/screenshots.sh [OUT_DIR] [SECONDS] [PRESET] [WORKSPACE]
#   WORKSPACE: runs to show beside the new one (default: a fresh temporary workspace);
#   the newest other run there is opened in the Compare tab.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/build/screenshots}; secs=${2:-60}; preset=${3:-quickstart}; ws=${4:-$(mktemp -d)}
studio=${AHA_STUDIO:-$here/build/release/app/aha-studio}
[[ -x $studio ]] || { echo "screenshots: $studio not built (cmake --build --preset release)" >&2; exit 2; }
mkdir -p "$out"
export XDG_CONFIG_HOME=$(mktemp -d)  # fresh settings: the shots do not depend on a previous session
xvfb-run -a -s "-screen 0 1440x900x24 -nolisten tcp" bash -c "
  '$studio' --workspace '$ws' --preset '$preset' --screenshots '$out' --after $secs &
  pid=\$!
  sleep \$(( $secs + 3 )); import -window root '$out/00-xscreen.png' || true
  wait \$pid"
echo "screenshots in $out:"; ls "$out"
