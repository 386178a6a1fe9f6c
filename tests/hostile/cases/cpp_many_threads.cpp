#include <chrono>
#include <cstdio>
#include <system_error>
#include <thread>
#include <unistd.h>
int main() {
    int n = 0;
    try {
        for (; n < 100000; n++) {
            std::thread t([] { std::this_thread::sleep_for(std::chrono::seconds(2)); });
            t.detach();
        }
    } catch (const std::system_error &) {
        printf("stopped %d\n", n); fflush(stdout); _exit(0);
    }
    printf("all %d\n", n); fflush(stdout); _exit(0);
}
