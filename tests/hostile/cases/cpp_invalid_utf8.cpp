#include <unistd.h>
static const unsigned char b[] = {111,107,32,240,159,152,128,32,255,254,195,40,0,97,98,99,237,160,128,240,159,152};
int main(){ (void)!write(1, b, sizeof b); (void)!write(2, b, sizeof b); }
