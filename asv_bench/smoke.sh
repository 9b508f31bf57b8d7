#!/usr/bin/env bash
# CI's check of the asv suite, a few minutes on 2 cores: `asv check` validates every benchmark,
# then one quick pass (each benchmark called once, nothing saved) runs every benchmark function
# on the small shapes, in the current environment. A broken benchmark makes it exit non-zero.
#
# usage: asv_bench/smoke.sh            (uses the repository's .venv, else python3 on PATH)
#        PYTHON=/path/to/python asv_bench/smoke.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-$here/../.venv/bin/python}"
[ -x "$python" ] || python="$(command -v python3)"
python="$(cd "$(dirname "$python")" && pwd)/$(basename "$python")"  # absolute, links kept: a venv's python is one
cd "$here"

# Every benchmark class on its smallest shapes: 1-D, 2-D and 3-D convs, one image and one volume
# correlation, three pooling kinds, bilinear upsampling, and both LeNet-5 steps. Parameter sets match as name('shape', ...).
small="\\('(lenet2|mnist1d|vol3d|img512_k7|vol64_k5|max3x3pad1|avg2x2|blur3|bilinear-x2)'|LeNet5Step"

"$python" -m asv machine --yes --machine smoke > /dev/null
"$python" -m asv check --python=same
"$python" -m asv run --python=same --quick --machine smoke --show-stderr --bench "$small"
