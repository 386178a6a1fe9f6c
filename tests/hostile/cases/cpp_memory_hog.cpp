#include <cstring>
#include <vector>
int main(){ std::vector<char*> v; for(;;){ char *p = new char[8<<20]; memset(p, 1, 8<<20); v.push_back(p); } }
