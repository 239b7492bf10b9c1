"""containerd without dockerd (a Kubernetes node's runtime) as a source, read from its files."""

from layershare.sources.containerd.source import DEFAULT_NAMESPACE, DEFAULT_ROOT, ContainerdSource

__all__ = ["DEFAULT_NAMESPACE", "DEFAULT_ROOT", "ContainerdSource"]
