"""``python -m daystosell_service.healthcheck``: exit 0 when the service in this container is ready.

The image's HEALTHCHECK runs it, so podman and Docker report a container as healthy only once the
model is loaded; Kubernetes ignores HEALTHCHECK and probes ``/health/ready`` itself. The image has no
curl, and the standard library keeps this probe free of the service's own imports (a few ms to start).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

READY_PATH = "/health/ready"


def main() -> int:
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8080')}{READY_PATH}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an HTTP proxy
    try:
        with opener.open(url, timeout=2.0) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as error:
        print(f"{url}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
