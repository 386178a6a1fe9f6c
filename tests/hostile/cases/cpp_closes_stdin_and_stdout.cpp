#include <cstdio>
#include <unistd.h>
int main(){ close(0); close(1); fprintf(stderr, "closed\n"); usleep(300000); return 0; }
