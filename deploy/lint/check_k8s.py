#!/usr/bin/env python3
"""Structural checks of the Kubernetes manifests in a folder, for CI without a cluster (kubeconform and the
Kubernetes JSON schemas are not in Debian and CI has no network). It checks what a typo or a rename would break:
- every document parses, has apiVersion, kind and metadata.name, and its apiVersion/kind is one we expect;
- the keys of each object, pod spec, container and probe are known ones (a misspelt key is silently ignored by
  kubectl apply without --validate);
- the Deployment requests nvidia.com/gpu, its selector matches its pod labels, every volumeMount names a volume, and
  every ConfigMap, Secret and PersistentVolumeClaim a volume names is defined here;
- readiness, liveness and startup probes are gRPC probes on a port the container declares;
- the Service selects the Deployment's pods and targets a named container port;
- the ConfigMap's layerscoped.json is a valid server config (server_flags.py) and listens on the container port;
- the Kustomization lists exactly the manifests of the folder.
"""
import json
import pathlib
import sys

import yaml

from server_flags import check_config_keys

KINDS = {
    ("v1", "ConfigMap"): {"apiVersion", "kind", "metadata", "data", "binaryData", "immutable"},
    ("v1", "Secret"): {"apiVersion", "kind", "metadata", "type", "data", "stringData", "immutable"},
    ("v1", "Service"): {"apiVersion", "kind", "metadata", "spec"},
    ("v1", "PersistentVolumeClaim"): {"apiVersion", "kind", "metadata", "spec"},
    ("apps/v1", "Deployment"): {"apiVersion", "kind", "metadata", "spec"},
    ("kustomize.config.k8s.io/v1beta1", "Kustomization"): {
        "apiVersion", "kind", "resources", "labels", "namespace", "images", "configMapGenerator", "patches"},
}
METADATA = {"name", "namespace", "labels", "annotations"}
DEPLOYMENT_SPEC = {"replicas", "strategy", "selector", "template", "revisionHistoryLimit", "minReadySeconds",
                   "progressDeadlineSeconds", "paused"}
POD_SPEC = {"securityContext", "terminationGracePeriodSeconds", "tolerations", "containers", "initContainers",
            "volumes", "nodeSelector", "affinity", "serviceAccountName", "runtimeClassName", "priorityClassName",
            "imagePullSecrets"}
CONTAINER = {"name", "image", "imagePullPolicy", "command", "args", "env", "envFrom", "ports", "resources",
             "startupProbe", "readinessProbe", "livenessProbe", "securityContext", "volumeMounts", "workingDir"}
PROBE = {"grpc", "httpGet", "tcpSocket", "exec", "initialDelaySeconds", "periodSeconds", "timeoutSeconds",
         "successThreshold", "failureThreshold", "terminationGracePeriodSeconds"}
SERVICE_SPEC = {"type", "selector", "ports", "clusterIP", "sessionAffinity"}
PVC_SPEC = {"accessModes", "resources", "storageClassName", "volumeMode", "selector"}


class Checker:
    def __init__(self, folder):
        self.folder = pathlib.Path(folder)
        self.problems = []
        self.objects = []  # (file name, document)
        self.pod_labels = {}  # of the Deployment's pods
        self.container_ports = {}  # name -> containerPort, of its container

    def problem(self, where, message):
        self.problems.append(f"{where}: {message}")

    def keys(self, where, obj, allowed):
        if not isinstance(obj, dict):
            self.problem(where, "must be a mapping")
            return False
        for key in obj:
            if key not in allowed:
                self.problem(where, f"unknown key '{key}'")
        return True

    def load(self):
        for path in sorted(self.folder.glob("*.yaml")):
            try:
                documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
            except yaml.YAMLError as e:
                self.problem(path.name, f"not valid YAML: {e}")
                continue
            for doc in documents:
                where = path.name
                if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
                    self.problem(where, "a document without apiVersion and kind")
                    continue
                allowed = KINDS.get((doc["apiVersion"], doc["kind"]))
                if allowed is None:
                    self.problem(where, f"unexpected apiVersion/kind {doc['apiVersion']}/{doc['kind']}")
                    continue
                self.keys(where, doc, allowed)
                if doc["kind"] != "Kustomization":
                    metadata = doc.get("metadata", {})
                    if self.keys(f"{where} metadata", metadata, METADATA) and not metadata.get("name"):
                        self.problem(where, "metadata.name is missing")
                self.objects.append((path.name, doc))

    def named(self, kind):
        return {doc["metadata"]["name"]: doc for _, doc in self.objects
                if doc["kind"] == kind and "name" in doc.get("metadata", {})}

    def check_deployment(self, where, deployment):
        spec = deployment.get("spec", {})
        if not self.keys(f"{where} spec", spec, DEPLOYMENT_SPEC):
            return
        template = spec.get("template", {})
        labels = template.get("metadata", {}).get("labels", {})
        selector = spec.get("selector", {}).get("matchLabels", {})
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            self.problem(where, f"selector {selector} does not match the pod labels {labels}")
        pod = template.get("spec", {})
        if not self.keys(f"{where} pod spec", pod, POD_SPEC):
            return
        volumes = {v.get("name"): v for v in pod.get("volumes", [])}
        references = [("ConfigMap", "configMap", "name"), ("Secret", "secret", "secretName"),
                      ("PersistentVolumeClaim", "persistentVolumeClaim", "claimName")]
        for name, volume in volumes.items():
            for kind, key, field in references:
                if key in volume and volume[key].get(field) not in self.named(kind):
                    self.problem(where, f"volume '{name}' names {kind} '{volume[key].get(field)}', not defined here")
        containers = pod.get("containers", [])
        if not containers:
            self.problem(where, "no containers")
        gpus = 0
        for container in containers:
            cwhere = f"{where} container '{container.get('name')}'"
            if not self.keys(cwhere, container, CONTAINER):
                continue
            ports = {p.get("name"): p.get("containerPort") for p in container.get("ports", [])}
            for mount in container.get("volumeMounts", []):
                if mount.get("name") not in volumes:
                    self.problem(cwhere, f"volumeMount '{mount.get('name')}' names no volume")
            for probe_name in ("startupProbe", "readinessProbe", "livenessProbe"):
                probe = container.get(probe_name)
                if probe is None:
                    self.problem(cwhere, f"no {probe_name}")
                    continue
                if not self.keys(f"{cwhere} {probe_name}", probe, PROBE):
                    continue
                port = probe.get("grpc", {}).get("port")
                if "grpc" not in probe:
                    self.problem(cwhere, f"{probe_name} is not a gRPC health probe")
                elif port not in ports.values():
                    self.problem(cwhere, f"{probe_name} probes port {port}, not a declared containerPort")
            resources = container.get("resources", {})
            gpus += int(resources.get("limits", {}).get("nvidia.com/gpu", 0))
            self.container_ports = ports
        if gpus < 1:
            self.problem(where, "no container has a limits entry for nvidia.com/gpu")
        self.pod_labels = labels

    def check_service(self, where, service):
        spec = service.get("spec", {})
        if not self.keys(f"{where} spec", spec, SERVICE_SPEC):
            return
        selector = spec.get("selector", {})
        if not selector or any(self.pod_labels.get(k) != v for k, v in selector.items()):
            self.problem(where, f"selector {selector} selects no pod of the Deployment")
        for port in spec.get("ports", []):
            target = port.get("targetPort")
            if target not in self.container_ports and target not in self.container_ports.values():
                self.problem(where, f"targetPort {target} is not a port of the container")

    def check_config_map(self, where, config_map):
        text = config_map.get("data", {}).get("layerscoped.json")
        if text is None:
            self.problem(where, "no layerscoped.json key")
            return
        try:
            config = json.loads(text)
        except json.JSONDecodeError as e:
            self.problem(where, f"layerscoped.json is not valid JSON: {e}")
            return
        self.problems += check_config_keys(config, f"{where} layerscoped.json")
        port = str(config.get("listen", "")).rpartition(":")[2]
        if not port.isdigit() or int(port) not in self.container_ports.values():
            self.problem(where, f"layerscoped.json listens on '{config.get('listen')}', not on the container port")

    def check_kustomization(self, where, kustomization):
        listed = set(kustomization.get("resources", []))
        present = {p.name for p in self.folder.glob("*.yaml")} - {where}
        for name in sorted(present - listed):
            self.problem(where, f"does not list {name}")
        for name in sorted(listed - present):
            self.problem(where, f"lists {name}, which does not exist")

    def run(self):
        self.load()
        deployments = [o for o in self.objects if o[1]["kind"] == "Deployment"]
        if len(deployments) != 1:
            self.problem(str(self.folder), f"{len(deployments)} Deployments, expected one")
        # The Deployment first: the Service and the ConfigMap are checked against its labels and ports.
        checks = [("Deployment", self.check_deployment), ("Service", self.check_service),
                  ("ConfigMap", self.check_config_map), ("Kustomization", self.check_kustomization),
                  ("PersistentVolumeClaim", lambda where, pvc: self.keys(f"{where} spec", pvc.get("spec", {}),
                                                                         PVC_SPEC))]
        for kind, check in checks:
            for where, doc in self.objects:
                if doc["kind"] == kind:
                    check(where, doc)
        return self.problems


def main(folder):
    problems = Checker(folder).run()
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
