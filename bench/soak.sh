#!/usr/bin/env bash
# Soak mode of the reliability suite, by hand (not part of ./test.sh): the crash test with 200
# senders and 5,000 acknowledged messages before kill -9, the 1,000-idle-socket test, the flood
# tests and the raw-frame tests, with CHATPORTAL_SOAK=1. Build first (./test.sh or dotnet build).
set -euo pipefail
cd "$(dirname "$0")/.."
export CHATPORTAL_SOAK=1
dotnet build ChatPortal.sln -c Debug -nologo -clp:ErrorsOnly
exec ./ChatPortal.Tests/bin/Debug/net10.0/ChatPortal.Tests -namespace ChatPortal.Tests.Reliability "$@"
