"""Load a published asv dashboard in headless Chromium and check that its benchmark graphs render.

    python asv_bench/check_dashboard.py [HTML_DIR] [--screenshots DIR] [--bench NAME ...]

HTML_DIR is what `asv publish` wrote (default: asv_bench/html). The check serves a copy
of it on 127.0.0.1 and, in Chromium (Debian's `chromium` package), verifies that
- the benchmark grid shows one entry per benchmark listed in index.json;
- each benchmark's graph page (all, or those named with --bench) draws a plot with
  data in its default view, and offers every value of every parameter (both backends,
  whether or not this machine could run them).
--screenshots writes grid.png and one <benchmark>.png per checked page. Exits 1 on a failure.

asv's pages load jQuery, flot, bootstrap and a few plugins from CDNs; where only
package registries are reachable (this project's machines and CI) the copy serves
the same libraries fetched with npm, unminified where npm has no minified build.
"""
import argparse
import functools
import html
import http.server
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
from pathlib import Path

# The file each CDN URL of asv 0.6's index.html names -> (npm package, path inside it).
VENDORED = {
    "jquery-3.3.1.min.js": ("jquery@3.3.1", "dist/jquery.min.js"),
    "jquery.flot.min.js": ("flot@0.8.3", "jquery.flot.js"),
    "jquery.flot.time.min.js": ("flot@0.8.3", "jquery.flot.time.js"),
    "jquery.flot.selection.min.js": ("flot@0.8.3", "jquery.flot.selection.js"),
    "jquery.flot.categories.min.js": ("flot@0.8.3", "jquery.flot.categories.js"),
    "jquery.flot.orderBars.js": ("flot-orderbars@1.0.0", "js/jquery.flot.orderBars.js"),
    "stupidtable.min.js": ("stupid-table-plugin@1.1.3", "stupidtable.min.js"),
    "md5.min.js": ("blueimp-md5@2.19.0", "js/md5.min.js"),
    "bootstrap.min.js": ("bootstrap@3.1.1", "dist/js/bootstrap.min.js"),
    "bootstrap.min.css": ("bootstrap@3.1.1", "dist/css/bootstrap.min.css"),
}
EXTERNAL = re.compile(r'(src|href)="https://(?:code\.jquery\.com|cdnjs\.cloudflare\.com|cdn\.jsdelivr\.net)/(?:[^"]*/)?([^/"]+)"')
NO_DATA = "No data for this combination of filters"


def vendor_libraries(site):
    """Point index.html's CDN links at local copies in site/vendor, fetched with `npm pack`."""
    index = site / "index.html"
    page = index.read_text()
    wanted = sorted({name for _, name in EXTERNAL.findall(page)})
    unknown = [name for name in wanted if name not in VENDORED]
    if unknown:
        raise SystemExit(f"index.html loads {unknown} from a CDN; add them to VENDORED in {__file__}")
    vendor = site / "vendor"
    vendor.mkdir()
    packages = {VENDORED[name][0] for name in wanted}
    subprocess.run(["npm", "pack", "--silent", "--pack-destination", str(vendor), *sorted(packages)],
                   check=True, stdout=subprocess.DEVNULL)
    for name in wanted:
        package, member = VENDORED[name]
        archive = next(vendor.glob(package.replace("@", "-") + ".tgz"))
        with tarfile.open(archive) as tar:
            (vendor / name).write_bytes(tar.extractfile(f"package/{member}").read())
    # Local copies differ from the CDNs' builds byte for byte, so their integrity hashes must go.
    page = EXTERNAL.sub(r'\1="vendor/\2"', page)
    index.write_text(re.sub(r'\s(?:integrity|crossorigin|referrerpolicy)="[^"]*"', "", page))


@functools.cache
def chromium_binary():
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return name
    raise SystemExit("no chromium on PATH: apt-get install -y chromium")


def chromium(url, *options):
    """Run headless Chromium on url until its scripts settle; returns stdout (the DOM with --dump-dom)."""
    command = [chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--window-size=1400,1000", "--virtual-time-budget=20000", *options, url]
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=180).stdout


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def check_page(base, name, benchmark, screenshots):
    """Problems with the graph page of one benchmark (an empty list when it renders)."""
    url = f"{base}/index.html#{name}"
    dom = chromium(url, "--dump-dom")
    problems = []
    if 'class="flot-base"' not in dom:
        problems.append(f"{name}: no plot canvas")
    if NO_DATA in dom:
        problems.append(f"{name}: the default view says '{NO_DATA}'")
    for param, values in zip(benchmark["param_names"], benchmark["params"]):
        missing = [v for v in values if f'role="button">{html.escape(v.strip(chr(39)))}</a>' not in dom]
        if missing:
            problems.append(f"{name}: parameter {param} does not offer {missing}")
    if screenshots:
        chromium(url, f"--screenshot={screenshots / (name + '.png')}")
    return problems


def check(html_dir, names=None, screenshots=None):
    """The problems found in the dashboard in html_dir (an empty list when it renders)."""
    index = json.loads((html_dir / "index.json").read_text())
    benchmarks = index["benchmarks"]
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        shutil.copytree(html_dir, site)
        vendor_libraries(site)
        handler = functools.partial(_QuietHandler, directory=str(site))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            grid = chromium(f"{base}/index.html", "--dump-dom")
            if screenshots:
                chromium(f"{base}/index.html", f"--screenshot={screenshots / 'grid.png'}")
            shown = grid.count('class="btn benchmark-container"')
            problems = [] if shown == len(benchmarks) else [f"grid shows {shown} of {len(benchmarks)} benchmarks"]
            for name in names or sorted(benchmarks):
                if name not in benchmarks:
                    problems.append(f"{name}: not in index.json")
                    continue
                problems += check_page(base, name, benchmarks[name], screenshots)
        finally:
            server.shutdown()
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("html", nargs="?", type=Path, default=Path(__file__).parent / "html")
    parser.add_argument("--screenshots", type=Path, help="write grid.png and <benchmark>.png here")
    parser.add_argument("--bench", action="append", help="check only this benchmark's page (repeatable)")
    args = parser.parse_args()
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    problems = check(args.html, args.bench, args.screenshots)
    for problem in problems:
        print("FAIL", problem)
    print(f"dashboard {args.html}: {'ok' if not problems else f'{len(problems)} problems'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
