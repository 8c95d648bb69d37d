#!/usr/bin/env bash
# The ladder's corpus, from Debian's packages alone: the King James Bible (package bible-kjv), one verse
# per line, without the "Ge1:1 " references. Usage: scripts/ladder-corpus.sh > kjv.txt
set -euo pipefail
command -v bible >/dev/null || { echo "needs the bible command: apt-get install bible-kjv" >&2; exit 2; }
bible -f gen1:1-rev22:21 | sed -E 's/^[0-9]?[A-Za-z]+[0-9]+:[0-9]+ //'
