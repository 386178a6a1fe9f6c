#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <fcntl.h>
#include <mqueue.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>
int main(int argc, char **argv) {
    std::string m = argv[1];
    int key = atoi(argv[2]);
    int shm = shmget(key, 1 << 20, IPC_CREAT | 0666);
    char *p = shm >= 0 ? (char *)shmat(shm, nullptr, 0) : nullptr;
    if (p && p != (char *)-1) strcpy(p, m.c_str());
    struct { long t; char b[32]; } msg = {1, "hello"};
    int q = msgget(key, IPC_CREAT | 0666);
    msgsnd(q, &msg, sizeof msg.b, IPC_NOWAIT);
    int s = semget(key, 3, IPC_CREAT | 0666);
    int fd = shm_open(("/" + m).c_str(), O_CREAT | O_RDWR, 0666);
    if (fd >= 0 && ftruncate(fd, 4096)) {}
    struct mq_attr at = {}; at.mq_maxmsg = 4; at.mq_msgsize = 64;
    mqd_t mq = mq_open(("/" + m).c_str(), O_CREAT | O_RDWR, 0666, &at);
    if (fork() == 0) { shmat(shm, nullptr, 0); sleep(30); _exit(0); }  // stays attached
    printf("shm %d msg %d sem %d shm_open %d mq %s\n", shm, q, s, fd, mq == (mqd_t)-1 ? strerror(errno) : "ok");
}
