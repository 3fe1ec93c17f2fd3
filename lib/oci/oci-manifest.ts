/**
 * The manifest kinds BitEnvoy reads from OCI registries, and the summary of one that the hub records on a deployment
 * and the agent picks a layer from. Only single manifests are deployed: an OCI image index or a Docker manifest list
 * (one manifest per platform) is refused with the list of platforms and their digests, so the user pins the one they
 * mean — guessing `linux/amd64` would deploy the wrong bytes to an arm64 server without a word.
 */

export const OCI_MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  /** The layer type of a file pushed as an artifact (`oras push`, GitHub's `actions/attest` bundles use others). */
  ociLayerTarGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  /** The config of an artifact that has none (OCI 1.1): the two bytes `{}`. */
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

/** What a registry is asked to send when a manifest is fetched: every kind we can read or explain. */
export const MANIFEST_ACCEPT = [
  OCI_MEDIA_TYPES.ociManifest,
  OCI_MEDIA_TYPES.dockerManifest,
  OCI_MEDIA_TYPES.ociIndex,
  OCI_MEDIA_TYPES.dockerManifestList,
].join(', ');

/** The annotation that names a layer's file (`oras push` sets it; so does the testbed). */
export const TITLE_ANNOTATION = 'org.opencontainers.image.title';

/** The largest manifest read: the distribution project's own registry refuses larger ones (4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface OciLayer {
  /** `sha256:<hex>` of the layer's bytes, as stored (compressed). */
  digest: string;
  size: number;
  mediaType: string;
  /** The file name from the `org.opencontainers.image.title` annotation, when the layer has one. */
  title: string | undefined;
}

export interface OciManifestSummary {
  /** The manifest's own media type: an OCI image manifest or a Docker v2 schema 2 manifest. */
  mediaType: string;
  /** `artifactType`, or else the config's media type (how OCI 1.1 says to read an artifact's type). */
  artifactType: string | undefined;
  layers: OciLayer[];
}
