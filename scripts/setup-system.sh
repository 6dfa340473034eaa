#!/usr/bin/env bash
# System tools the build needs beyond Rust and Python: cmake builds CharLS (DICOM JPEG-LS).
# Idempotent: installs only what is missing (Debian; needs root or sudo).
set -euo pipefail
if command -v cmake >/dev/null 2>&1; then
  exit 0
fi
echo "hulu: installing cmake (needed to build the JPEG-LS codec)" >&2
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq cmake >/dev/null
