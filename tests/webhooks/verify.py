#!/usr/bin/env python3
"""Verify one resetgate webhook delivery with the official Standard Webhooks library.

Reads a JSON object on standard input:

    {"secret": "whsec_...", "headers": {"webhook-id": ..., ...}, "body": "<raw body>"}

and calls ``standardwebhooks.Webhook(secret).verify(body, headers)``. Exits 0 and
prints ``ok`` when the delivery verifies; exits 1 and prints why when it does not;
exits 2 on bad input. The timestamp is checked against this machine's clock with
the library's own tolerance (5 minutes).
"""

import json
import sys

import standardwebhooks
from standardwebhooks.webhooks import WebhookVerificationError


def main() -> int:
    try:
        request = json.load(sys.stdin)
        secret = request["secret"]
        headers = request["headers"]
        body = request["body"]
    except (ValueError, KeyError, TypeError) as error:
        print(f"bad input: {error!r}")
        return 2
    try:
        standardwebhooks.Webhook(secret).verify(body.encode("utf-8"), headers, json_parse=False)
    except WebhookVerificationError as error:
        print(f"rejected: {error}")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
