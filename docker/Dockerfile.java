# Executor image for java: built by the gateway's docker runtime (or by hand from the repository
# root: docker build -f docker/Dockerfile.java -t codegate-java .). See docker/README.md.
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
# The language toolchain: Debian's OpenJDK 17 (/usr/bin/java, /usr/bin/javac; the compile step
# runs javac inside java's source-file mode, common/lang.c "Java"). Its post-install makes links
# under /usr/share/man, which the slim base image lacks. The JDK's class-data-sharing archive
# (lib/server/classes.jsa) comes with the package (made here when not); -Xshare:auto maps it at
# every start.
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jdk-headless \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && { ls /usr/lib/jvm/java-17-openjdk-*/lib/server/classes.jsa || java -Xshare:dump >/dev/null; } \
 && java -version 2>&1 | grep -q ' 17\.'
COPY --from=build /src/build/executor /src/build/launcher /usr/local/bin/
ENV EXECUTOR_LANGUAGE=java
# /work is a tmpfs at run time (the docker runtime mounts it); the root file system is read-only.
WORKDIR /work
EXPOSE 8765
CMD ["/usr/local/bin/executor"]
