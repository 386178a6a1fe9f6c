#include <thread>
#include <vector>
int main() {
    std::vector<std::thread> t;
    for (int i = 0; i < 4; i++) t.emplace_back([] { volatile unsigned long x = 0; for (;;) x++; });
    for (auto &th : t) th.join();
}
