# Executor image for cpp: built by the gateway's docker runtime (or by hand from the repository
# root: docker build -f docker/Dockerfile.cpp -t codegate-cpp .). See docker/README.md.
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
# The language toolchain: Debian's GCC 12 (/usr/bin/g++), the C library headers, and mold, which
# links several times faster than GNU ld (the executor passes -fuse-ld=mold when it is there).
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ libc6-dev mold \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
# A precompiled <bits/stdc++.h> (competitive programmers' favourite include) for the exact flags
# of the compile step (executors/profiles.c: -std=c++17 -O2). GCC takes bits/stdc++.h.gch in
# place of the header when the flags match, and silently parses the header otherwise; a
# compile with it takes a fraction of the time (docs/PERFORMANCE.md).
RUN h=$(echo '#include <bits/stdc++.h>' | g++ -std=c++17 -O2 -H -x c++ -fsyntax-only - 2>&1 \
        | awk '$2 ~ /bits\/stdc\+\+\.h$/ {print $2; exit}') \
 && test -n "$h" \
 && g++ -std=c++17 -O2 -x c++-header "$h" -o "$h.gch" \
 && echo '#include <bits/stdc++.h>' | g++ -std=c++17 -O2 -H -x c++ -fsyntax-only - 2>&1 \
        | head -1 | grep -q '^! '
# The precompiled header of the common standard headers (<iostream>, <vector>, <algorithm>...),
# one .gch per -std/-O variant: a compile whose includes are among them gets it as its first
# include (executors/cxxfast.h). /usr is in every slot's box.
COPY executors/pch/ /usr/local/lib/codegate/pch-src/
RUN sh /usr/local/lib/codegate/pch-src/build-pch.sh /usr/local/lib/codegate/pch \
 && rm -rf /usr/local/lib/codegate/pch-src
ENV EXECUTOR_PCH_DIR=/usr/local/lib/codegate/pch
COPY --from=build /src/build/executor /src/build/launcher /usr/local/bin/
ENV EXECUTOR_LANGUAGE=cpp
# /work is a tmpfs at run time (the docker runtime mounts it); the root file system is read-only.
WORKDIR /work
EXPOSE 8765
CMD ["/usr/local/bin/executor"]
