/// BerthImages — images for berth: references, OCI/Docker manifests and configs, the content
/// store under `<root>/images`, layer unpacking (libarchive, whiteouts → overlayfs form),
/// the registry client and archive load/save/import.
///
/// A leaf module: it imports BerthSystem and the C libraries only, never the Compose model
/// or the runtime. The runtime gets what it needs as plain values (`lowerDirs` top-first,
/// the image config).
public enum BerthImagesModule {}
