#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv) {
    printf("{");
    for (int i = 3; i < argc; i++) {
        std::string t = argv[i];
        size_t c = t.rfind(':');
        sockaddr_in a{}; a.sin_family = AF_INET; a.sin_port = htons(atoi(t.c_str() + c + 1));
        inet_pton(AF_INET, t.substr(0, c).c_str(), &a.sin_addr);
        int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        const char *r = "connected";
        if (connect(s, (sockaddr *)&a, sizeof a) != 0) {
            if (errno != EINPROGRESS) r = strerrorname_np(errno);
            else {
                pollfd p{s, POLLOUT, 0};
                if (poll(&p, 1, 1500) <= 0) r = "timeout";
                else { int e = 0; socklen_t l = sizeof e; getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &l); if (e) r = strerrorname_np(e); }
            }
        }
        close(s);
        printf("%s\"%s\": \"%s\"", i > 3 ? ", " : "", argv[i], r);
    }
    printf("}\n");
}
