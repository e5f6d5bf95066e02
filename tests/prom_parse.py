#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Parse Prometheus text exposition on stdin with the official client's
parser (prometheus_client.parser) and print one sample per line:
name TAB label=value (separated by U+001F) TAB value. A parse error exits
non-zero with the parser's message."""
import sys

from prometheus_client.parser import text_string_to_metric_families

for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = "\x1f".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        print(f"{s.name}\t{labels}\t{s.value!r}")
