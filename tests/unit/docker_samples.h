/*
 * docker_samples.h - answers of a real Docker 20.10.24 daemon, shared by the Docker client's
 * unit tests (test_docker_stream.c parses them, test_docker_client.c serves them).
 */
#ifndef CG_TEST_DOCKER_SAMPLES_H
#define CG_TEST_DOCKER_SAMPLES_H

/* Copied from Docker 20.10.24 building a Dockerfile whose third step fails. */
static const char build_fail[] =
    "{\"stream\":\"Step 1/4 : FROM debian:bookworm-slim\"}\r\n"
    "{\"stream\":\"\\n\"}\r\n"
    "{\"stream\":\" ---\\u003e cf38a11ae42d\\n\"}\r\n"
    "{\"stream\":\"Step 2/4 : RUN echo hello\"}\r\n"
    "{\"stream\":\"\\n\"}\r\n"
    "{\"stream\":\" ---\\u003e Running in be5c469f082d\\n\"}\r\n"
    "{\"stream\":\"hello\\n\"}\r\n"
    "{\"stream\":\"Removing intermediate container be5c469f082d\\n\"}\r\n"
    "{\"stream\":\" ---\\u003e ef52b0637f1b\\n\"}\r\n"
    "{\"stream\":\"Step 3/4 : RUN echo to stderr \\u003e\\u00262; false\"}\r\n"
    "{\"stream\":\"\\n\"}\r\n"
    "{\"stream\":\" ---\\u003e Running in 33b82a40fdba\\n\"}\r\n"
    "{\"stream\":\"\\u001b[91mto stderr\\n\\u001b[0m\"}\r\n"
    "{\"stream\":\"Removing intermediate container 33b82a40fdba\\n\"}\r\n"
    "{\"errorDetail\":{\"code\":1,\"message\":\"The command '/bin/sh -c echo to stderr "
    "\\u003e\\u00262; false' returned a non-zero code: 1\"},\"error\":\"The command '/bin/sh "
    "-c echo to stderr \\u003e\\u00262; false' returned a non-zero code: 1\"}\r\n";

static const char build_ok[] =
    "{\"stream\":\"Step 1/2 : FROM debian:bookworm-slim\"}\r\n"
    "{\"stream\":\"\\n\"}\r\n"
    "{\"stream\":\" ---\\u003e cf38a11ae42d\\n\"}\r\n"
    "{\"stream\":\"Step 2/2 : RUN echo hello\"}\r\n"
    "{\"stream\":\"\\n\"}\r\n"
    "{\"stream\":\" ---\\u003e Using cache\\n\"}\r\n"
    "{\"stream\":\" ---\\u003e ef52b0637f1b\\n\"}\r\n"
    "{\"aux\":{\"ID\":\"sha256:ef52b0637f1babdfa4e7749ab794576ab6db228bfe9d2d4d187f50317c261e56\"}}"
    "\r\n"
    "{\"stream\":\"Successfully built ef52b0637f1b\\n\"}\r\n"
    "{\"stream\":\"Successfully tagged cgtest:ok\\n\"}\r\n";

#endif
