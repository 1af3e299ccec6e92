# Test-bed stand-in for the public node:20-bookworm-slim image, for machines that cannot pull it:
# the local Debian base (debootstrap + docker import) plus the host's own node binary.
ARG BASE_IMAGE=berth/debian:bookworm
FROM ${BASE_IMAGE}
COPY node /usr/local/bin/node
CMD ["node"]
