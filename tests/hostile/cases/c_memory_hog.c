#include <stdlib.h>
#include <string.h>
int main(void) { for (;;) { char *p = malloc(8 << 20); memset(p, 1, 8 << 20); } }
