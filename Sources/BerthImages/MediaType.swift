/// Media types of the OCI image spec and Docker's schema 2 (SEMANTICS.md §2f).
public enum MediaType {
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let ociConfig = "application/vnd.oci.image.config.v1+json"
    public static let ociLayer = "application/vnd.oci.image.layer.v1.tar"
    public static let ociLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let ociLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
    public static let ociNondistributablePrefix = "application/vnd.oci.image.layer.nondistributable.v1.tar"

    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerConfig = "application/vnd.docker.container.image.v1+json"
    public static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    public static let dockerLayer = "application/vnd.docker.image.rootfs.diff.tar"
    public static let dockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
    public static let dockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"
    public static let dockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json"

    /// What a client sends as `Accept` for manifests: the two manifest and two index types.
    public static let manifestAccept = [dockerManifest, dockerManifestList, ociManifest, ociIndex]

    public static func isIndex(_ type: String) -> Bool { type == ociIndex || type == dockerManifestList }
    public static func isManifest(_ type: String) -> Bool { type == ociManifest || type == dockerManifest }

    /// Whether a layer of this type is a (possibly compressed) tar berth can apply.
    /// libarchive detects the compression from the bytes, so the suffix only has to be known.
    public static func isFilesystemLayer(_ type: String) -> Bool {
        [ociLayer, ociLayerGzip, ociLayerZstd, dockerLayerGzip, dockerLayer, dockerForeignLayerGzip].contains(type)
            || type.hasPrefix(ociNondistributablePrefix)
    }
}
