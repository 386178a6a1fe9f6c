#include <cerrno>
#include <cstdio>
#include <string>
#include <vector>
#include <unistd.h>
int main() {
    std::string big(100000, 'A');
    std::vector<char *> av{(char *)"true"};
    for (int i = 0; i < 300; i++) av.push_back((char *)big.c_str());
    av.push_back(nullptr);
    char *env[] = {nullptr};
    execve("/bin/true", av.data(), env);
    int e1 = errno;
    std::vector<std::string> ev;
    for (int i = 0; i < 40000; i++) ev.push_back("K" + std::to_string(i) + "=" + std::string(1000, 'V'));
    std::vector<char *> ep;
    for (auto &s : ev) ep.push_back((char *)s.c_str());
    ep.push_back(nullptr);
    char *a2[] = {(char *)"true", nullptr};
    execve("/bin/true", a2, ep.data());
    int e2 = errno;
    printf("%d %d\n", e1, e2);
}
