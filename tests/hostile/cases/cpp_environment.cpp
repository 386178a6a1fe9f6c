#include <cstdio>
extern char **environ;
int main(){ for (char **e = environ; *e; e++) puts(*e); }
