#!/usr/bin/env bash
# Regenerate tests/fixtures/terraform/*/plan.json from the main.tf beside each (`make fixtures`).
#
# Needs `terraform` and the hashicorp/aws provider, from the registry or a local plugin mirror
# (TF_PLUGIN_MIRROR: the folder holding registry.terraform.io/). Tests and CI only read the
# committed plan.json files, so this runs only when a fixture's .tf changes.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if ! command -v terraform >/dev/null; then
    echo "terraform is not on PATH: the committed plan.json fixtures stay as they are" >&2
    exit 1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [[ -n "${TF_PLUGIN_MIRROR:-}" ]]; then
    printf 'provider_installation {\n  filesystem_mirror { path = "%s" }\n}\n' "$TF_PLUGIN_MIRROR" >"$work/cli.tfrc"
    export TF_CLI_CONFIG_FILE="$work/cli.tfrc"
fi
for tf in "$root"/tests/fixtures/terraform/*/main.tf; do
    case_dir="$(dirname "$tf")"
    name="$(basename "$case_dir")"
    mkdir -p "$work/$name"
    cp "$tf" "$work/$name/"
    (
        cd "$work/$name"
        terraform init -input=false -no-color >/dev/null
        terraform plan -refresh=false -input=false -no-color -out=tfplan >/dev/null
        terraform show -json tfplan >"$case_dir/plan.json"
    )
    echo "wrote $case_dir/plan.json"
done
