"""aws_codebuild_project: build minutes (usage ``monthly_build_mins``), as Infracost's
``CodeBuildProject``.

The price is the environment's (``environment.type``: Linux, Linux GPU, ARM, Windows) and compute
type's (``environment.compute_type``: the general1 small to 2xlarge sizes). A project of another
compute type (Lambda compute, reserved capacity) gets no components, as in Infracost.
"""

from __future__ import annotations

from cloudcostguard.estimation.kit import INTEGER, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "CodeBuild"
COMPUTE_TYPES = {
    "BUILD_GENERAL1_SMALL": "g1.small",
    "BUILD_GENERAL1_MEDIUM": "g1.medium",
    "BUILD_GENERAL1_LARGE": "g1.large",
    "BUILD_GENERAL1_2XLARGE": "g1.2xlarge",
}
ENVIRONMENTS = {
    "LINUX_CONTAINER": "Linux",
    "LINUX_GPU_CONTAINER": "LinuxGPU",
    "ARM_CONTAINER": "ARM",
    "WINDOWS_SERVER_2019_CONTAINER": "Windows",
}
# Infracost's line names for the environments that have one size only.
FIXED_NAMES = {"ARM_CONTAINER": "Linux (arm1.large)", "LINUX_GPU_CONTAINER": "Linux (gpu1.large)"}
_BUILD_PREFIX = "BUILD_"

USAGE = (UsageKey("monthly_build_mins", INTEGER, "Monthly build minutes of the project."),)


def _name(environment: str, compute_type: str) -> str:
    fixed = FIXED_NAMES.get(environment)
    if fixed is not None:
        return fixed
    family = "Windows" if environment == "WINDOWS_SERVER_2019_CONTAINER" else "Linux"
    size = compute_type.removeprefix(_BUILD_PREFIX).lower().replace("_", ".", 1)
    return f"{family} ({size})"


@pricer("aws_codebuild_project", usage=USAGE)
def price_codebuild_project(ctx: PricingContext) -> list[CostComponent]:
    environment_block = ctx.attrs.block("environment")
    compute_type = environment_block.text("compute_type") or ""
    environment = environment_block.text("type") or ""
    size = COMPUTE_TYPES.get(compute_type)
    if size is None:
        return []
    query = {
        "productFamily": "Compute",
        "usagetypeBase": f"Build-Min:{ENVIRONMENTS.get(environment, '')}:{size}",
    }
    minutes = ctx.usage.decimal("monthly_build_mins")
    return [ctx.prices(SERVICE).usage(_name(environment, compute_type), "minutes", minutes, query)]
