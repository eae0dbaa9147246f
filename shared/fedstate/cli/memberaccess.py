"""The identity member-cluster services run with in the local stack: the ServiceAccount, roles and bindings
``deploy/k8s/member-cluster.yaml`` defines, applied to each simulated cluster, and a token of that
ServiceAccount (TokenRequest) in a kubeconfig of their own — so the shipped RBAC is what they live with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import CliError

# PyYAML is imported where it is used: ``fedstate demo`` imports this module, and every command's start
# would pay for it (15-30 ms, issue 14's start-up clause).

MEMBER_MANIFEST = Path("deploy/k8s/member-cluster.yaml")
# What a member cluster's RBAC consists of; the rest of the manifest (Deployments, NATS leaf) the stack
# replaces with local processes.
RBAC_KINDS = ("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
TOKEN_SECONDS = 365 * 24 * 3600  # a local stack outlives the default hour; no kubelet refreshes this token


def source_file(relative: Path) -> Path:
    """A file of the project: in the working directory, else in the source tree this package was installed from."""
    if relative.is_file():
        return relative
    return Path(__file__).resolve().parents[3] / relative


def rbac_documents(manifest: Path) -> list[dict[str, Any]]:
    import yaml

    documents = [d for d in yaml.safe_load_all(manifest.read_text()) if isinstance(d, dict)]
    return [d for d in documents if d.get("kind") in RBAC_KINDS]


def service_account(documents: list[dict[str, Any]]) -> tuple[str, str]:
    """(namespace, name) of the one ServiceAccount the member services run as."""
    accounts = [d["metadata"] for d in documents if d["kind"] == "ServiceAccount"]
    if len(accounts) != 1:
        raise CliError(f"an RBAC manifest must define exactly one ServiceAccount, found {len(accounts)}")
    return accounts[0]["namespace"], accounts[0]["name"]


def grant_member_access(
    admin_kubeconfig: Path, clusters: list[str], target: Path, manifest: Path = MEMBER_MANIFEST
) -> Path:
    """Apply the member RBAC (or another manifest's) to every cluster (as the admin) and write ``target``: each
    cluster's context with the ServiceAccount's token instead of the admin's."""
    import yaml
    from kubernetes import client, config, utils  # only `fedstate up` pays for the client

    documents = rbac_documents(source_file(manifest))
    namespace, name = service_account(documents)
    kubeconfig = yaml.safe_load(admin_kubeconfig.read_text())
    users, contexts = [], []
    for cluster in clusters:
        with config.new_client_from_config(str(admin_kubeconfig), context=cluster) as api:
            for document in documents:
                utils.create_from_dict(api, document)
            request = client.AuthenticationV1TokenRequest(
                spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=TOKEN_SECONDS)
            )
            answer = client.CoreV1Api(api).create_namespaced_service_account_token(name, namespace, request)
        if answer.status is None:
            raise CliError(f"{cluster}: the TokenRequest for {namespace}/{name} answered no token")
        user = f"{name}@{cluster}"
        users.append({"name": user, "user": {"token": answer.status.token}})
        contexts.append({"name": cluster, "context": {"cluster": cluster, "user": user, "namespace": namespace}})
    kubeconfig.update(users=users, contexts=contexts)
    target.unlink(missing_ok=True)
    target.touch(mode=0o600)  # tokens: readable by the user only, as ~/.kube/config
    target.write_text(yaml.safe_dump(kubeconfig, sort_keys=False))
    return target


CRDS_MANIFEST = Path("deploy/k8s/crds.yaml")


def install_crds(admin_kubeconfig: Path, cluster: str) -> None:
    """Create the CustomResourceDefinitions of deploy/k8s/crds.yaml in ``cluster``, as its admin."""
    import yaml
    from kubernetes import config, utils

    with config.new_client_from_config(str(admin_kubeconfig), context=cluster) as api:
        for document in yaml.safe_load_all(source_file(CRDS_MANIFEST).read_text()):
            if isinstance(document, dict):
                utils.create_from_dict(api, document)
