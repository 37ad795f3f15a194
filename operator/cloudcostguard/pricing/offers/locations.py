"""Region codes for offer-file products.

Newer offer files carry ``regionCode``; files before about 2021 only have ``location``, the display
name ("US East (N. Virginia)", "EU (Ireland)"). AWS renamed "EU (…)" to "Europe (…)" and "Asia
Pacific (Osaka-Local)" to "Asia Pacific (Osaka)" over time: both spellings map to the same code.
Global products (Route 53, "Any"/"Global" location) are filed under the region ``global``, as in the
bundled snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping

GLOBAL_REGION = "global"

_DISPLAY_NAMES = {
    "US East (N. Virginia)": "us-east-1",
    "US East (Ohio)": "us-east-2",
    "US West (N. California)": "us-west-1",
    "US West (Oregon)": "us-west-2",
    "Africa (Cape Town)": "af-south-1",
    "Asia Pacific (Hong Kong)": "ap-east-1",
    "Asia Pacific (Taipei)": "ap-east-2",
    "Asia Pacific (Mumbai)": "ap-south-1",
    "Asia Pacific (Hyderabad)": "ap-south-2",
    "Asia Pacific (Singapore)": "ap-southeast-1",
    "Asia Pacific (Sydney)": "ap-southeast-2",
    "Asia Pacific (Jakarta)": "ap-southeast-3",
    "Asia Pacific (Melbourne)": "ap-southeast-4",
    "Asia Pacific (Malaysia)": "ap-southeast-5",
    "Asia Pacific (Thailand)": "ap-southeast-7",
    "Asia Pacific (Tokyo)": "ap-northeast-1",
    "Asia Pacific (Seoul)": "ap-northeast-2",
    "Asia Pacific (Osaka)": "ap-northeast-3",
    "Asia Pacific (Osaka-Local)": "ap-northeast-3",
    "Canada (Central)": "ca-central-1",
    "Canada West (Calgary)": "ca-west-1",
    "Europe (Frankfurt)": "eu-central-1",
    "Europe (Zurich)": "eu-central-2",
    "Europe (Ireland)": "eu-west-1",
    "Europe (London)": "eu-west-2",
    "Europe (Paris)": "eu-west-3",
    "Europe (Milan)": "eu-south-1",
    "Europe (Spain)": "eu-south-2",
    "Europe (Stockholm)": "eu-north-1",
    "Israel (Tel Aviv)": "il-central-1",
    "Mexico (Central)": "mx-central-1",
    "Middle East (Bahrain)": "me-south-1",
    "Middle East (UAE)": "me-central-1",
    "South America (Sao Paulo)": "sa-east-1",
    "AWS GovCloud (US)": "us-gov-west-1",
    "AWS GovCloud (US-West)": "us-gov-west-1",
    "AWS GovCloud (US-East)": "us-gov-east-1",
    "China (Beijing)": "cn-north-1",
    "China (Ningxia)": "cn-northwest-1",
}
# "EU (Ireland)" is the older spelling of "Europe (Ireland)".
REGION_BY_LOCATION: Mapping[str, str] = {
    **_DISPLAY_NAMES,
    **{
        "EU (" + name[len("Europe (") :]: code
        for name, code in _DISPLAY_NAMES.items()
        if name.startswith("Europe (")
    },
}
_GLOBAL_LOCATIONS = frozenset({"Any", "Global", "any", "global"})


def region_of(attributes: Mapping[str, str]) -> str | None:
    """The product's region code, ``global`` for global products, None when it cannot be told."""
    code = attributes.get("regionCode")
    if code:
        return code
    location = attributes.get("location")
    if location:
        if location in _GLOBAL_LOCATIONS or attributes.get("locationType") == "Global":
            return GLOBAL_REGION
        return REGION_BY_LOCATION.get(location)
    # Data-transfer products name both ends instead: file them under where the data leaves.
    code = attributes.get("fromRegionCode")
    if code:
        return code
    source = attributes.get("fromLocation")
    if source == "External":  # data coming in from the internet is billed where it lands
        code = attributes.get("toRegionCode")
        return code or REGION_BY_LOCATION.get(attributes.get("toLocation", ""))
    if source:
        if source in _GLOBAL_LOCATIONS:
            return GLOBAL_REGION
        return REGION_BY_LOCATION.get(source)
    return None
