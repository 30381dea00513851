# The Gantry job image: Node 20, the docker CLI, git and the Gantry CLI, the image the CI
# components run (input `image`). Its tag is the package version, so a component @1.4.2 runs
# the CLI 1.4.2 (Gantry's .gitlab-ci.yml builds and pushes it on release tags).
#
# The build context is a directory holding the package tarball, not the checkout:
#   npm ci && npm run build && npm pack --pack-destination image-context
#   docker build -f Dockerfile -t <registry>/devops/gantry:<version> image-context
# Optional in the context: npm-cache/ (an npm cache, `_cacache` inside) to install the package's
# dependencies offline. Build arguments:
#   BASE_IMAGE        Node 20 image (Debian or Alpine: git is installed with its package manager;
#                     a base without one must bring git itself)
#   DOCKER_CLI_IMAGE  an image with a static docker CLI at /usr/local/bin/docker
#   NPM_CONFIG_REGISTRY  an npm registry mirror for the dependencies (empty: npm's default)
# Gantry runs commands through zx, which needs bash: a busybox base gets `busybox ash` as bash.
# The docker CLI talks to the runner's daemon: a mounted /var/run/docker.sock, or a docker:dind
# service with DOCKER_HOST=tcp://docker:2375.
ARG BASE_IMAGE=node:20-bookworm-slim
ARG DOCKER_CLI_IMAGE=docker:28-cli

FROM ${DOCKER_CLI_IMAGE} AS docker-cli

FROM ${BASE_IMAGE}
ARG NPM_CONFIG_REGISTRY
RUN if command -v apt-get >/dev/null; then \
      apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends git ca-certificates openssh-client \
      && rm -rf /var/lib/apt/lists/*; \
    elif command -v apk >/dev/null; then \
      apk add --no-cache bash git ca-certificates openssh-client; \
    else \
      echo "no package manager in the base image: git is not installed" >&2; \
    fi; \
    if ! command -v bash >/dev/null && command -v busybox >/dev/null; then \
      printf '#!/bin/sh\nexec busybox ash "$@"\n' > /usr/local/bin/bash && chmod 755 /usr/local/bin/bash; \
    fi
COPY --from=docker-cli /usr/local/bin/docker /usr/local/bin/docker
# npm-cach[e] matches nothing when the context has no cache: then only the tarball is copied.
COPY gantry-*.tgz npm-cach[e] /tmp/gantry/
RUN set -e; cd /tmp/gantry; \
    if [ -d _cacache ]; then set -- --offline --cache /tmp/gantry; fi; \
    if [ -n "$NPM_CONFIG_REGISTRY" ]; then set -- "$@" --registry "$NPM_CONFIG_REGISTRY"; fi; \
    npm install -g --omit=dev --no-audit --no-fund --no-update-notifier --loglevel=error "$@" ./gantry-*.tgz; \
    cd /; rm -rf /tmp/gantry /root/.npm; \
    gantry --version; docker --version
LABEL org.opencontainers.image.title="gantry" \
      org.opencontainers.image.description="GitLab CI job image: Node 20, docker CLI, git and the Gantry CLI"
CMD ["gantry", "--help"]
