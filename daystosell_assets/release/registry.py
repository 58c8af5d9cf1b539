"""Publishing the tested image to an OCI registry and pinning it by the digest the registry reports.

Any registry works by configuration: ``RegistryTarget(address, repository, tls_verify, username,
password)``. Credentials come from the environment (``DAYSTOSELL_REGISTRY_USERNAME`` /
``_PASSWORD``) and reach buildah and podman through a private auth file for the duration of one
command (``credentials``); they are never written into an image or a command line.
"""

from __future__ import annotations

import base64
import json
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from daystosell_assets.release.errors import ReleaseError, ToolFailedError
from daystosell_assets.release.images import push_image
from daystosell_assets.release.tools import ContainerTools, LineLog

LOCAL_REGISTRY = "127.0.0.1:5055"  # scripts/registry.py's default
START_HINT = ("for the local default start it with `python scripts/registry.py start`; otherwise set "
              "DAYSTOSELL_REGISTRY to yours")


class RegistryError(ReleaseError):
    """The registry could not be reached, refused us, or does not hold what we pushed."""


@dataclass(frozen=True)
class RegistryTarget:
    address: str  # host[:port]
    repository: str = "daystosell/service"
    tls_verify: bool = True
    username: str | None = None
    password: str | None = None

    def tagged(self, tag: str) -> str:
        return f"{self.address}/{self.repository}:{tag}"

    def pinned(self, digest: str) -> str:
        return f"{self.address}/{self.repository}@{digest}"

    def __repr__(self) -> str:  # never print the password
        return (f"RegistryTarget(address={self.address!r}, repository={self.repository!r}, "
                f"tls_verify={self.tls_verify}, username={self.username!r})")


def is_loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0] if address.count(":") == 1 else address
    return host in ("127.0.0.1", "localhost", "[::1]")


@contextmanager
def credentials(target: RegistryTarget, tools: ContainerTools) -> Iterator[ContainerTools]:
    """``tools`` reading ``target``'s credentials from a private auth file, deleted afterwards."""
    if not target.username:
        yield tools
        return
    token = base64.b64encode(f"{target.username}:{target.password or ''}".encode()).decode()
    with tempfile.TemporaryDirectory(prefix="daystosell-auth-") as tmp:
        path = Path(tmp) / "auth.json"
        path.touch(mode=0o600)
        path.write_text(json.dumps({"auths": {target.address: {"auth": token}}}))
        yield replace(tools, auth_file=str(path))


def check_reachable(target: RegistryTarget, timeout: float = 5.0) -> None:
    """Fails fast, and says what to do, when nothing answers the registry API at ``target``."""
    scheme = "https" if target.tls_verify else "http"
    url = f"{scheme}://{target.address}/v2/"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}) if is_loopback(target.address)
                                         else urllib.request.ProxyHandler())
    try:
        with opener.open(url, timeout=timeout):
            return
    except urllib.error.HTTPError as error:
        if error.code == 401:  # the API is there and wants credentials: the push will send them
            return
        raise RegistryError(f"{url} answered HTTP {error.code}: is {target.address} an OCI registry?") from error
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise RegistryError(f"the registry at {target.address} is not reachable ({reason}): {START_HINT}; "
                            "then re-execute the failed run from its failed step") from error


def publish(image: str, target: RegistryTarget, tag: str, *, tools: ContainerTools | None = None,
            logger: LineLog) -> str:
    """Pushes ``image`` as ``target.tagged(tag)``, checks the registry serves the pushed manifest by
    digest, and returns that digest (``sha256:...``)."""
    tools = tools or ContainerTools.from_env()
    check_reachable(target)
    destination = f"docker://{target.tagged(tag)}"
    with credentials(target, tools) as authed:
        try:
            digest = push_image(image, destination, tls_verify=target.tls_verify, tools=authed, logger=logger)
        except ToolFailedError as error:
            if "unauthorized" in str(error).lower() or "authentication required" in str(error).lower():
                raise RegistryError(
                    f"{target.address} refused the push of {image}: set DAYSTOSELL_REGISTRY_USERNAME and "
                    f"DAYSTOSELL_REGISTRY_PASSWORD to an account that may push to {target.repository}"
                ) from error
            raise RegistryError(f"pushing {image} to {target.address} failed: {error}") from error
        pinned = target.pinned(digest)
        served = authed.run(authed.skopeo("inspect", f"--tls-verify={str(target.tls_verify).lower()}",
                                          "--format", "{{.Digest}}", f"docker://{pinned}"), check=False).strip()
    if served != digest:
        raise RegistryError(f"{target.address} does not serve {pinned} after the push (got {served or 'nothing'})")
    logger.info(f"pushed {image} as {pinned}")
    return digest

